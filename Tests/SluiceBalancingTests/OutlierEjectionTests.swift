import Testing

@testable import SluiceBalancing

@Suite struct OutlierEjectionTests {
    let s: UInt64 = 1_000_000_000
    var policy: OutlierPolicy { OutlierPolicy(consecutiveFailures: 3, baseEjection: 10 * s, maxEjection: 300 * s, maxEjectedShare: 0.5) }

    func decide(_ failures: Int, _ history: EjectionHistory = .init(), tier: Int = 4, ejected: Int = 0, at now: UInt64) -> EjectionDecision
    {
        policy.decide(failures: failures, history: history, tierSize: tier, now: now) { ejected }
    }

    @Test func failuresBelowTheThresholdDoNothing() {
        #expect(decide(1, at: 100 * s) == .nothing)
        #expect(decide(2, at: 100 * s) == .nothing)
        #expect(!policy.reachesThreshold(2) && policy.reachesThreshold(3))
    }

    @Test func theThresholdEjectsForTheBaseTimeFirst() {
        #expect(decide(3, at: 100 * s) == .eject(duration: 10 * s, streak: 1))
    }

    @Test func anEjectedBackendsFailuresDoNotCount() {
        #expect(!policy.countsFailure(ejected: true))
        #expect(policy.countsFailure(ejected: false))
    }

    @Test func repeatedEjectionsDoubleUntilAQuietMaxEjection() {
        // Ejected twice already, the last one ended 50 s ago: the third lasts 40 s.
        let recent = EjectionHistory(streak: 2, lastEnd: 100 * s)
        #expect(decide(3, recent, at: 150 * s) == .eject(duration: 40 * s, streak: 3))
        // Quiet for max_ejection (300 s) since: back to the base time.
        #expect(decide(3, recent, at: 400 * s) == .eject(duration: 10 * s, streak: 1))
        // Capped at max_ejection.
        #expect(decide(3, EjectionHistory(streak: 9, lastEnd: 100 * s), at: 101 * s) == .eject(duration: 300 * s, streak: 10))
    }

    @Test func maxEjectedRefusesAndWarnsAtMostEveryTenSeconds() {
        #expect(decide(3, tier: 4, ejected: 2, at: 100 * s) == .refused(warn: true))
        let warned = EjectionHistory(lastWarning: 100 * s)
        #expect(decide(3, warned, tier: 4, ejected: 2, at: 109 * s) == .refused(warn: false))
        #expect(decide(3, warned, tier: 4, ejected: 2, at: 110 * s) == .refused(warn: true))
        #expect(decide(3, tier: 4, ejected: 1, at: 100 * s) == .eject(duration: 10 * s, streak: 1))
    }

    @Test func aTierOfOneIsNeverEjected() {
        #expect(decide(3, tier: 1, at: 100 * s) == .refused(warn: true))
    }

    @Test func theTierIsOnlyCountedAtTheThreshold() {
        var asked = 0
        let count = {
            asked += 1
            return 0
        }
        _ = policy.decide(failures: 2, history: .init(), tierSize: 4, now: s, alreadyEjected: count)
        #expect(asked == 0)
        _ = policy.decide(failures: 3, history: .init(), tierSize: 4, now: s, alreadyEjected: count)
        #expect(asked == 1)
    }
}
