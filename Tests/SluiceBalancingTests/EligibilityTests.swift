import Testing

@testable import SluiceBalancing

@Suite struct EligibilityTests {
    let now: UInt64 = 5_000_000_000

    @Test func triedMembersAreNeverAdmitted() {
        let view = TestBackends(count: 3)
        let e = Eligibility(filter: .none, tried: [1], now: now)
        #expect(e.admits(0, view) && !e.admits(1, view) && e.admits(2, view))
        #expect(!e.admitsAll)
    }

    @Test func theAvailableFilterSkipsUnhealthyAndDrainedMembers() {
        var view = TestBackends(count: 3)
        view.available[0] = false
        view.adminActive[1] = false
        let e = Eligibility(filter: .available, now: now)
        #expect(!e.admits(0, view) && !e.admits(1, view) && e.admits(2, view))
    }

    @Test func failOpenAdmitsUnhealthyButNotDrainedMembers() {
        var view = TestBackends(count: 2)
        view.available[0] = false
        view.adminActive[1] = false
        let e = Eligibility(filter: .adminActive, now: now)
        #expect(e.admits(0, view))
        #expect(!e.admits(1, view))
    }

    @Test func noFilterAdmitsEverythingAndSaysSo() {
        var view = TestBackends(count: 2)
        view.available = [false, false]
        let e = Eligibility(filter: .none, now: now)
        #expect(e.admitsAll)
        #expect(e.admits(0, view) && e.admits(1, view))
    }

    @Test func aMemberAtTheLimitIsFull() {
        var view = TestBackends(count: 2)
        view.inFlight = [4, 3]
        view.limit = 4
        let e = Eligibility(filter: .none, limited: true, now: now)
        #expect(!e.admits(0, view))
        #expect(e.admits(1, view))
        #expect(!e.admitsAll)
    }

    @Test func aFailoverPickSkipsMembersThatJustFailedUntilTheirWindowEnds() {
        var view = TestBackends(count: 2)
        view.justFailedUntil[0] = now + 1
        let failover = Eligibility(filter: .available, avoidJustFailed: true, now: now)
        #expect(!failover.admits(0, view) && failover.admits(1, view))
        #expect(Eligibility(filter: .available, avoidJustFailed: true, now: now + 1).admits(0, view))
        #expect(Eligibility(filter: .available, now: now).admits(0, view))  // a first pick does not avoid it
    }

    @Test func firstSkipsZeroWeightsAndIneligibleMembers() {
        var view = TestBackends(count: 4)
        view.available[1] = false
        let e = Eligibility(filter: .available, tried: [2], now: now)
        #expect(e.first(among: [0, 5, 5, 1], view) == 3)
        #expect(e.first(among: [0, 5, 5, 0], view) == nil)
    }
}
