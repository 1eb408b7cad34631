import Testing

@testable import SluiceBenchKit

/// Recovery time, Retry-After statistics and per-phase figures from fixed windows.
@Suite struct CaseSummaryTests {
    @Test func recoveryIsTheFirstSecondAfterTheSpikeWithinTheThreshold() {
        let rows: [(successes: Int, p99: Double)] = [(10, 20), (10, 300), (10, 250), (0, 0), (10, 23), (10, 21)]
        // The spike ended at second 2: second 3 answered nothing, second 4 is within 24 ms.
        #expect(CaseSummary.recoverySeconds(rows, from: 2, threshold: 24) == 2)
        #expect(CaseSummary.recoverySeconds(rows, from: 2, threshold: 22) == 3)
        #expect(CaseSummary.recoverySeconds(rows, from: 2, threshold: 10) == nil)
        #expect(CaseSummary.recoverySeconds(rows, from: 4, threshold: 24) == 0)
        #expect(CaseSummary.recoverySeconds(rows, from: 9, threshold: 24) == nil)
    }

    @Test func settlingNeedsEveryLaterSecondWithinBothBounds() {
        let rows: [(goodput: Int, offered: Int, p99: Double)] = [
            (600, 600, 30), (300, 600, 500), (380, 600, 100), (370, 600, 110), (300, 600, 100), (390, 600, 90), (395, 600, 95),
        ]
        // Floor 360, limit 120: second 4 is under the floor, so it settles at 5.
        #expect(CaseSummary.settleSecond(rows, from: 1, p99Limit: 120, goodputFloor: 360) == 5)
        #expect(CaseSummary.settleSecond(rows, from: 1, p99Limit: 80, goodputFloor: 360) == nil)
        // A second that offered less than the floor only needs 90% of what it offered.
        let light: [(goodput: Int, offered: Int, p99: Double)] = [(100, 100, 30), (95, 100, 40)]
        #expect(CaseSummary.settleSecond(light, from: 0, p99Limit: 120, goodputFloor: 360) == 0)
    }

    @Test func retryAfterDistributionListsDistinctValuesSmallestFirst() {
        let d = CaseSummary.distribution([3: 5, 1: 40, 2: 7])
        #expect(d.map(\.value) == [1, 2, 3])
        #expect(d.map(\.count) == [40, 7, 5])
        #expect(CaseSummary.describe([1: 40, 2: 7]) == "1 s ×40, 2 s ×7 (2 distinct)")
        #expect(CaseSummary.describe([:]) == "none")
    }

    /// A mix plan of 4 seconds: baseline 2 s, spike 1 s, after 1 s.
    func tinyMix() -> CasePlan {
        var plan = CasePlan.make(.mix, CaseParameters())
        plan.phases = [
            CasePhase(name: "baseline", seconds: 2), CasePhase(name: "spike-3x", seconds: 1, isSpike: true),
            CasePhase(name: "after", seconds: 1),
        ]
        plan.streams[0].rates = [2, 4, 2]
        plan.streams[1].rates = [8, 36, 8]
        return plan
    }

    func window(offered: Int, ok: Int, latencyMillis: UInt64, shed: Int = 0, retryAfter: Int? = nil, timeouts: Int = 0) -> Window {
        var w = Window()
        w.offered = offered
        for _ in 0..<ok { w.record(.success, retryAfter: nil, latencyMicros: latencyMillis * 1000) }
        for _ in 0..<shed {
            w.record(retryAfter == nil ? .r503Bare : .r503RetryAfter, retryAfter: retryAfter, latencyMicros: 500)
        }
        for _ in 0..<timeouts { w.record(.timeout, retryAfter: nil, latencyMicros: nil) }
        return w
    }

    @Test func summaryCountsCriticalShareOutcomesRetryAfterAndRecovery() {
        let plan = tinyMix()
        let checkout = [
            window(offered: 2, ok: 2, latencyMillis: 20), window(offered: 2, ok: 2, latencyMillis: 20),
            window(offered: 4, ok: 3, latencyMillis: 80, timeouts: 1), window(offered: 2, ok: 2, latencyMillis: 21),
        ]
        let browse = [
            window(offered: 8, ok: 8, latencyMillis: 20), window(offered: 8, ok: 8, latencyMillis: 20),
            window(offered: 36, ok: 10, latencyMillis: 90, shed: 26, retryAfter: 2), window(offered: 8, ok: 8, latencyMillis: 21),
        ]
        let r = CaseSummary.summarize("t", plan: plan, groupWindows: [checkout, browse], issued: 70)
        #expect(r.seconds.map(\.offered) == [10, 10, 40, 10])
        #expect(r.seconds.map(\.goodput) == [10, 10, 13, 10])
        #expect(r.seconds.map(\.criticalGoodput) == [2, 2, 3, 2])
        #expect(r.seconds.map(\.rejected) == [0, 0, 27, 0])
        let spike = r.phases.first { $0.phase == "spike-3x" }!
        #expect(spike.criticalServedShare == 0.75)
        #expect(spike.outcomes[Outcome.r503RetryAfter.rawValue] == 26)
        #expect(spike.outcomes[Outcome.timeout.rawValue] == 1)
        #expect(spike.retryAfter == [2: 26])
        #expect(r.retryAfter == [2: 26])
        #expect(abs(r.phases[0].p99 - 20) < 0.1)
        // Baseline p99 20 ms; the first second after the spike has p99 21 ms, within 10%.
        #expect(r.recovery == [RecoveryFigure(after: "spike-3x", seconds: 0, rule: "p99 ≤ 22.0 ms (baseline 20.0 ms + 10%)")])
        #expect(r.outcomes.reduce(0, +) == 70)
    }

    @Test func recoveryAfterASpikeStopsAtTheNextSpike() {
        var plan = CasePlan.make(.flashSale, CaseParameters())
        plan.phases = [
            CasePhase(name: "baseline", seconds: 1), CasePhase(name: "spike-3x", seconds: 1, isSpike: true),
            CasePhase(name: "after-3x", seconds: 2), CasePhase(name: "spike-10x", seconds: 1, isSpike: true),
            CasePhase(name: "after-10x", seconds: 1),
        ]
        // p99 by second: 20 (baseline), 500, 300, 300 (never back before the next spike), 20, 21.
        let g = [20, 500, 300, 300, 20, 21].map { window(offered: 10, ok: 10, latencyMillis: UInt64($0)) }
        let r = CaseSummary.summarize("t", plan: plan, groupWindows: [g], issued: 60)
        #expect(r.recovery.map(\.after) == ["spike-3x", "spike-10x"])
        #expect(r.recovery.map(\.seconds) == [nil, 0])
    }

    @Test func requestsThatNeverLeftTheClientAreNotCountedAsTimeoutsOnTheWire() {
        var w = Window()
        w.record(.notSent, retryAfter: nil, latencyMicros: nil)
        w.record(.timeout, retryAfter: nil, latencyMicros: nil)
        w.record(.connectionError, retryAfter: nil, latencyMicros: nil)
        #expect(w.outcomes[Outcome.notSent.rawValue] == 1)
        #expect(w.outcomes[Outcome.timeout.rawValue] == 1)
        #expect(w.rejected == 3)
        #expect(w.success.totalCount == 0)
    }

    @Test func perSecondCSVHasOneRowPerSecondAndEveryOutcomeColumn() {
        let plan = tinyMix()
        let g = (0..<4).map { _ in window(offered: 5, ok: 4, latencyMillis: 10, shed: 1, retryAfter: 1) }
        let r = CaseSummary.summarize("t", plan: plan, groupWindows: [g, g], issued: 40)
        let lines = CaseReport.csv(r).split(separator: "\n")
        #expect(lines.count == 5)
        #expect(lines[0].hasPrefix("second,phase,offered,goodput,critical_goodput,rejected,p50_ms,p99_ms,n_2xx,n_503_RA"))
        #expect(lines[0].split(separator: ",").count == 8 + Outcome.allCases.count + 4)
        #expect(lines[0].hasSuffix(",hits,hit_p99_ms,backend_requests,backend_304"))
        #expect(lines.allSatisfy { $0.split(separator: ",").count == 8 + Outcome.allCases.count + 4 })
        #expect(lines[3].hasPrefix("2,spike-3x,10,8,4,2,"))
    }
}
