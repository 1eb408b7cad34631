/// One second of a case run, as charted: offered, goodput, rejected, p99 of successes.
public struct CaseSecond: Sendable, Codable, Equatable {
    public var second: Int
    public var phase: String
    public var offered: Int
    public var goodput: Int
    /// 2xx of the plan's critical group (0 when it has none).
    public var criticalGoodput: Int
    public var rejected: Int
    /// By `Outcome.rawValue`.
    public var outcomes: [Int]
    public var p50: Double
    public var p99: Double
    /// The cache case: answers marked as hits and their p99; requests the backends received
    /// in this second, and how many of them got a 304.
    public var hits = 0
    public var hitP99 = 0.0
    public var backendRequests = 0
    public var backendNotModified = 0
}

/// One phase of a case run, per second where it is a rate.
public struct CasePhaseSummary: Sendable, Codable, Equatable {
    public var phase: String
    public var seconds: Int
    public var offeredPerSecond: Double
    public var goodputPerSecond: Double
    public var criticalGoodputPerSecond: Double
    /// Critical 2xx / critical offered in this phase (nil without a critical group).
    public var criticalServedShare: Double?
    /// p99 of the protected group's successes (abuser case: everyone but the abuser).
    public var protectedP99: Double?
    /// By `Outcome.rawValue`.
    public var outcomes: [Int]
    public var p50: Double
    public var p99: Double
    /// `Retry-After` values received in this phase: value -> count.
    public var retryAfter: [Int: Int]
    /// The cache case's figures (nil in the other cases).
    public var cache: CachePhaseFigures? = nil
}

/// Time to recover after one overload phase.
public struct RecoveryFigure: Sendable, Codable, Equatable {
    /// The overload phase it follows.
    public var after: String
    /// Seconds from the end of that phase to the first second that meets the rule; nil: none did.
    public var seconds: Int?
    public var rule: String
}

/// Everything measured for one target in one case.
public struct CaseTargetResult: Sendable, Codable {
    public var target: String
    public var skipped: String?
    public var seconds: [CaseSecond] = []
    public var phases: [CasePhaseSummary] = []
    public var recovery: [RecoveryFigure] = []
    /// Every `Retry-After` value received in the run: value -> count.
    public var retryAfter: [Int: Int] = [:]
    public var issued = 0
    /// By `Outcome.rawValue`, the whole run.
    public var outcomes: [Int] = []
}

/// Turns a case run's per-second, per-group windows into rows, phases and recovery times.
/// Pure; any thread.
public enum CaseSummary {
    /// Recovery after each spike phase: the first second after it (0 = the very first one),
    /// before the next spike phase starts, whose successes' p99 is within `tolerance` of the
    /// baseline phase's p99. Slowdown: the
    /// first second from the change on after which every second of the phase has p99 ≤ 3x the
    /// new service time and goodput ≥ 90% of min(offered, new capacity).
    public static func summarize(
        _ target: String, plan: CasePlan, groupWindows: [[Window]], issued: Int, tolerance: Double = 0.10
    ) -> CaseTargetResult {
        let groups = plan.groups
        let critical = plan.criticalGroup.flatMap { groups.firstIndex(of: $0) }
        let protected = plan.protectedGroup.flatMap { groups.firstIndex(of: $0) }
        let all = combined(groupWindows)
        let count = all.count
        var r = CaseTargetResult(target: target, skipped: nil)
        r.issued = issued
        for (s, w) in all.enumerated() where s < plan.totalSeconds || w.outcomes.reduce(0, +) > 0 {
            let phase = plan.phaseIndex(atSecond: s).map { plan.phases[$0].name } ?? "drain"
            r.seconds.append(
                CaseSecond(
                    second: s, phase: phase, offered: w.offered, goodput: w.outcomes[Outcome.success.rawValue],
                    criticalGoodput: critical.map { groupWindows[$0][s].outcomes[Outcome.success.rawValue] } ?? 0, rejected: w.rejected,
                    outcomes: w.outcomes, p50: w.successMillis(50), p99: w.successMillis(99)))
        }
        for (i, p) in plan.phases.enumerated() {
            let t = plan.startSecond(ofPhase: i)
            let range = t..<min(t + p.seconds, count)
            var w = Window()
            for s in range { w.add(all[s]) }
            var crit = Window()
            if let c = critical { for s in range { crit.add(groupWindows[c][s]) } }
            var prot = Window()
            if let g = protected { for s in range { prot.add(groupWindows[g][s]) } }
            let d = Double(max(1, p.seconds))
            r.phases.append(
                CasePhaseSummary(
                    phase: p.name, seconds: p.seconds, offeredPerSecond: Double(w.offered) / d,
                    goodputPerSecond: Double(w.outcomes[Outcome.success.rawValue]) / d,
                    criticalGoodputPerSecond: Double(crit.outcomes[Outcome.success.rawValue]) / d,
                    criticalServedShare: critical == nil || crit.offered == 0
                        ? nil : Double(crit.outcomes[Outcome.success.rawValue]) / Double(crit.offered),
                    protectedP99: protected == nil ? nil : prot.successMillis(99), outcomes: w.outcomes, p50: w.successMillis(50),
                    p99: w.successMillis(99), retryAfter: w.retryAfter))
        }
        let total = all.reduce(into: Window()) { $0.add($1) }
        r.retryAfter = total.retryAfter
        r.outcomes = total.outcomes
        let p99s = r.seconds.map { (successes: $0.goodput, p99: $0.p99) }
        let baseline = r.phases.first { $0.phase == "baseline" }?.p99 ?? 0
        for (i, p) in plan.phases.enumerated() where p.isSpike {
            let end = plan.startSecond(ofPhase: i) + p.seconds
            if plan.benchCase == .slowdown, let change = plan.changes.first {
                let service = Double(change.serviceTimeMillis)
                let rows = r.seconds.filter { $0.second < end }
                let s = settleSecond(
                    rows.map { (goodput: $0.goodput, offered: $0.offered, p99: $0.p99) }, from: change.atSecond, p99Limit: 3 * service,
                    goodputFloor: 0.9 * Double(plan.capacity(atSecond: change.atSecond)))
                r.recovery.append(
                    RecoveryFigure(
                        after: "change at \(change.atSecond) s", seconds: s.map { $0 - change.atSecond },
                        rule: "every later second: p99 ≤ \(Int(3 * service)) ms and goodput ≥ 90% of min(offered, new capacity)"))
            } else if i + 1 < plan.phases.count {
                let limit = baseline * (1 + tolerance)
                // Only until the next overload phase starts: recovering inside it does not count.
                let next = plan.phases.indices.first { $0 > i && plan.phases[$0].isSpike }
                let until = next.map { plan.startSecond(ofPhase: $0) } ?? p99s.count
                r.recovery.append(
                    RecoveryFigure(
                        after: p.name, seconds: recoverySeconds(Array(p99s.prefix(until)), from: end, threshold: limit),
                        rule: "p99 ≤ \(Report.f(limit, 1)) ms (baseline \(Report.f(baseline, 1)) ms + \(Int(tolerance * 100))%)"))
            }
        }
        return r
    }

    /// Every group's window of each second added up (as long as the shortest group's list).
    static func combined(_ groupWindows: [[Window]]) -> [Window] {
        let count = groupWindows.map(\.count).min() ?? 0
        return (0..<count).map { s in
            var w = Window()
            for g in groupWindows.indices { w.add(groupWindows[g][s]) }
            return w
        }
    }

    /// Seconds from `from` to the first second with successes whose p99 ≤ `threshold`.
    public static func recoverySeconds(_ rows: [(successes: Int, p99: Double)], from: Int, threshold: Double) -> Int? {
        guard from >= 0, from < rows.count else { return nil }
        for s in from..<rows.count where rows[s].successes > 0 && rows[s].p99 <= threshold {
            return s - from
        }
        return nil
    }

    /// The first second ≥ `from` such that it and every later row meet both bounds.
    public static func settleSecond(
        _ rows: [(goodput: Int, offered: Int, p99: Double)], from: Int, p99Limit: Double, goodputFloor: Double
    ) -> Int? {
        var settled: Int? = nil
        guard from < rows.count else { return nil }
        for s in (from..<rows.count).reversed() {
            let r = rows[s]
            let floor = min(goodputFloor, 0.9 * Double(r.offered))
            guard r.goodput > 0, r.p99 <= p99Limit, Double(r.goodput) >= floor else { break }
            settled = s
        }
        return settled
    }

    /// Distinct `Retry-After` values and their counts, smallest value first.
    public static func distribution(_ counts: [Int: Int]) -> [(value: Int, count: Int)] {
        counts.sorted { $0.key < $1.key }.map { (value: $0.key, count: $0.value) }
    }

    /// "1 s ×120, 2 s ×31 (2 distinct)" or "none".
    public static func describe(_ counts: [Int: Int]) -> String {
        let d = distribution(counts)
        guard !d.isEmpty else { return "none" }
        let shown = d.prefix(12).map { "\($0.value) s ×\($0.count)" }.joined(separator: ", ")
        return shown + (d.count > 12 ? ", …" : "") + " (\(d.count) distinct)"
    }
}
