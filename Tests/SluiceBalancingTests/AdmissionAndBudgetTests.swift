import Testing

@testable import SluiceBalancing

@Suite struct AdmissionRulesTests {
    let ms: UInt64 = 1_000_000

    @Test func theQueueAdmitsUpToItsCapacity() {
        let q = AdmissionRules(capacity: 2, target: 0)
        #expect(q.admits(waiting: 0) && q.admits(waiting: 1))
        #expect(!q.admits(waiting: 2))
        #expect(!AdmissionRules(capacity: 0, target: 0).admits(waiting: 0))
    }

    @Test func theOldestWaiterIsDiscardedIfGoneDispatchedIfABackendIsFreeElseWaits() {
        let q = AdmissionRules(capacity: 4, target: 0)
        var asked = 0
        #expect(
            q.next(
                stillWaiting: false,
                backendFree: {
                    asked += 1; return true
                }) == .discard)
        #expect(asked == 0)  // a gone waiter costs no pick
        #expect(q.next(stillWaiting: true, backendFree: { true }) == .dispatch)
        #expect(q.next(stillWaiting: true, backendFree: { false }) == .wait)
    }

    @Test func aStandingQueueShedsItsOldestPastTarget() {
        var q = AdmissionRules(capacity: 4, target: 50 * ms)
        var now: UInt64 = 1_000 * ms
        q.roll(now: now, oldestAge: nil)
        for _ in 0..<4 {
            now += 30 * ms
            q.dispatched(sojourn: 80 * ms, now: now)
        }
        q.roll(now: now, oldestAge: 60 * ms)
        #expect(q.shedsOldest(age: 60 * ms))
        #expect(!q.shedsOldest(age: 40 * ms))
    }

    @Test func quickDispatchesShedNothing() {
        var q = AdmissionRules(capacity: 4, target: 50 * ms)
        var now: UInt64 = 1_000 * ms
        for _ in 0..<8 {
            now += 30 * ms
            q.dispatched(sojourn: 5 * ms, now: now)
        }
        q.roll(now: now + 200 * ms, oldestAge: 90 * ms)
        #expect(!q.shedsOldest(age: 90 * ms))
    }
}

@Suite struct RetryBudgetTests {
    @Test func aQuietClusterMayAlwaysRunThreeRetries() {
        let b = RetryBudget(ratio: 0.2)
        #expect(b.allows(retriesInFlight: 0, requestsInFlight: 0))
        #expect(b.allows(retriesInFlight: 2, requestsInFlight: 1))
        #expect(!b.allows(retriesInFlight: 3, requestsInFlight: 1))
    }

    @Test func underLoadRetriesAreAShareOfRequestsInFlight() {
        let b = RetryBudget(ratio: 0.2)
        #expect(b.allows(retriesInFlight: 19, requestsInFlight: 100))
        #expect(!b.allows(retriesInFlight: 20, requestsInFlight: 100))
        #expect(!RetryBudget(ratio: 0).allows(retriesInFlight: 3, requestsInFlight: 1000))
    }
}

@Suite struct SlowStartRampTests {
    let s: UInt64 = 1_000_000_000

    @Test func theRampIsDueEveryHundredMillisecondsOrAtOnceOnAHealthChange() {
        var r = SlowStartRamp()
        let steps: [(UInt64, UInt64)] = [
            (5 * s, 1), (5 * s + 99_999_999, 1), (5 * s + 100_000_000, 1), (5 * s + 100_000_001, 2), (5 * s + 100_000_002, 2),
        ]
        let due = steps.map { r.due(now: $0.0, generation: $0.1) }
        #expect(due == [true, false, true, true, false])
    }

    @Test func aBackendRampsFromItsLaterOfJoiningAndEjectionEnd() {
        let x = SlowStart.scale
        #expect(SlowStart.rampedWeight(10, joinedAt: 0, now: 5 * s, duration: 30 * s) == 10 * x)  // since start
        #expect(SlowStart.rampedWeight(10, joinedAt: 5 * s, now: 5 * s, duration: 30 * s) == x)  // 10%
        #expect(SlowStart.rampedWeight(10, joinedAt: 5 * s, now: 20 * s, duration: 30 * s) == 55 * x / 10)
        #expect(SlowStart.rampedWeight(10, joinedAt: 5 * s, now: 35 * s, duration: 30 * s) == 10 * x)
        #expect(SlowStart.rampedWeight(10, joinedAt: 9 * s, now: 5 * s, duration: 30 * s) == x)  // a future join: start
        #expect(SlowStart.rampedWeight(10, joinedAt: 5 * s, now: 6 * s, duration: 0) == 10 * x)  // off
    }
}
