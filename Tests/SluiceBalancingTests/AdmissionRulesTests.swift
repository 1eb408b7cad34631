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
