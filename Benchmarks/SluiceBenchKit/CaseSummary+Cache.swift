/// What the cache case measures in one phase, beyond the figures of every case.
public struct CachePhaseFigures: Sendable, Codable, Equatable {
    /// Answers a cache served (any status) and their share of all answers.
    public var hits: Int
    public var hitShare: Double
    public var hitP50: Double
    public var hitP99: Double
    /// Latency of every answer, whatever its status (ms).
    public var allP50: Double
    public var allP99: Double
    /// Requests that did not end in a 2xx (non-2xx answers, timeouts, never sent, broken).
    public var errors: Int
    /// Requests the backends received in the phase, and the 304s among them.
    public var backendRequests: Int
    public var notModified: Int
    /// Per 5-second window from the start of the phase (a last partial window included):
    /// the most and the mean of the backends' requests, and the most 304s.
    public var backendPer5sMax: Int
    public var backendPer5sMean: Double
    public var notModifiedPer5sMax: Int
}

/// The cache case's figures from the load's windows and the backends' per-second counts.
/// Pure; any thread.
extension CaseSummary {
    /// Sums of `counts` over consecutive 5-second windows of `range` (the last may be short).
    public static func per5s(_ counts: [Int], range: Range<Int>) -> [Int] {
        stride(from: range.lowerBound, to: range.upperBound, by: 5).map { start in
            (start..<min(start + 5, range.upperBound)).reduce(0) { $0 + (counts.indices.contains($1) ? counts[$1] : 0) }
        }
    }

    /// Fills in the per-second hit and backend columns and each phase's `cache` figures.
    public static func addCacheFigures(
        _ r: inout CaseTargetResult, plan: CasePlan, groupWindows: [[Window]], backendRequests: [Int], notModified: [Int]
    ) {
        let all = combined(groupWindows)
        for i in r.seconds.indices {
            let s = r.seconds[i].second
            guard s < all.count else { continue }
            r.seconds[i].hits = all[s].hits
            r.seconds[i].hitP99 = all[s].hitMillis(99)
            r.seconds[i].backendRequests = backendRequests.indices.contains(s) ? backendRequests[s] : 0
            r.seconds[i].backendNotModified = notModified.indices.contains(s) ? notModified[s] : 0
        }
        for (i, p) in plan.phases.enumerated() where i < r.phases.count {
            let t = plan.startSecond(ofPhase: i)
            let range = t..<(t + p.seconds)
            var w = Window()
            for s in range where s < all.count { w.add(all[s]) }
            r.phases[i].cache = cacheFigures(w, range: range, backendRequests: backendRequests, notModified: notModified)
        }
    }

    /// One phase's figures: `w` is the phase's load window, `range` its seconds.
    public static func cacheFigures(_ w: Window, range: Range<Int>, backendRequests: [Int], notModified: [Int]) -> CachePhaseFigures {
        let backend = per5s(backendRequests, range: range)
        let revalidated = per5s(notModified, range: range)
        return CachePhaseFigures(
            hits: w.hits, hitShare: w.answered == 0 ? 0 : Double(w.hits) / Double(w.answered), hitP50: w.hitMillis(50),
            hitP99: w.hitMillis(99), allP50: w.percentileMillis(50), allP99: w.percentileMillis(99), errors: w.rejected,
            backendRequests: backend.reduce(0, +), notModified: revalidated.reduce(0, +), backendPer5sMax: backend.max() ?? 0,
            backendPer5sMean: backend.isEmpty ? 0 : Double(backend.reduce(0, +)) / Double(backend.count),
            notModifiedPer5sMax: revalidated.max() ?? 0)
    }
}
