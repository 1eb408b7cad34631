import Testing

@testable import SluiceBalancing

/// Two primaries (weights 2 and 1, members 0 and 1) and one standby (member 2).
@Suite struct TierSelectorTests {
    let now: UInt64 = 10_000_000_000
    let healthy = TierShare(healthyPrimary: 3, totalPrimary: 3, standbyAvailable: true, overprovisioning: 1.4)
    let allDown = TierShare(healthyPrimary: 0, totalPrimary: 3, standbyAvailable: false, overprovisioning: 1.4)

    func selector(_ view: TestBackends, failOpen: Bool = true, hasStandby: Bool = true) -> TierSelector<TestBackends> {
        TierSelector(
            view: view, primaryWeights: [2, 1, 0], standbyWeights: [0, 0, 1], hasStandby: hasStandby, failOpen: failOpen, now: now)
    }

    @Test func nothingToFilterNeedsNoPlan() {
        #expect(!TierSelector<TestBackends>.needsPlan(afterFailure: false, backendsCanLeave: false, recentFailure: false))
        #expect(TierSelector<TestBackends>.needsPlan(afterFailure: true, backendsCanLeave: false, recentFailure: false))
        #expect(TierSelector<TestBackends>.needsPlan(afterFailure: false, backendsCanLeave: true, recentFailure: false))
        #expect(TierSelector<TestBackends>.needsPlan(afterFailure: false, backendsCanLeave: false, recentFailure: true))
        #expect(TierPlan.unfiltered == TierPlan(first: 0, second: -1, filter: .none, avoidJustFailed: false))
    }

    @Test func allHealthyStartsOnPrimariesThenStandby() {
        var random = FastRandom(seed: 1)
        let p = selector(TestBackends(count: 3)).plan(share: healthy, failedTier: nil, recentFailure: false, draw: true, random: &random)
        #expect(p == TierPlan(first: 0, second: 1, filter: .available, avoidJustFailed: false))
    }

    @Test func allDownFailsOpenOnOperatorActiveBackendsOrRejects() {
        var random = FastRandom(seed: 1)
        let open = selector(TestBackends(count: 3)).plan(share: allDown, failedTier: nil, recentFailure: false, draw: true, random: &random)
        #expect(open == TierPlan(first: 0, second: 1, filter: .adminActive, avoidJustFailed: false))
        let retry = selector(TestBackends(count: 3)).plan(share: allDown, failedTier: 0, recentFailure: true, draw: true, random: &random)
        #expect(retry.avoidJustFailed)
        let reject = selector(TestBackends(count: 3), failOpen: false).plan(
            share: allDown, failedTier: nil, recentFailure: false, draw: true, random: &random)
        #expect(reject == .none)
    }

    @Test func theShareSendsItsFractionToStandby() {
        var random = FastRandom(seed: 5)
        let half = TierShare(healthyPrimary: 1, totalPrimary: 3, standbyAvailable: true, overprovisioning: 1.5)  // 50% standby
        let s = selector(TestBackends(count: 3))
        var standby = 0
        for _ in 0..<10_000 where s.plan(share: half, failedTier: nil, recentFailure: false, draw: true, random: &random).first == 1 {
            standby += 1
        }
        #expect(abs(standby - 5_000) < 300, "\(standby)")
    }

    @Test func withoutADrawPrimariesComeFirstAndNoRandomIsUsed() {
        var random = FastRandom(seed: 5)
        let untouched = random
        let half = TierShare(healthyPrimary: 1, totalPrimary: 3, standbyAvailable: true, overprovisioning: 1.5)
        for _ in 0..<10 {
            let p = selector(TestBackends(count: 3)).plan(share: half, failedTier: nil, recentFailure: false, draw: false, random: &random)
            #expect(p.first == 0)
        }
        var a = random
        var b = untouched
        let (x, y) = (a.next(), b.next())
        #expect(x == y)
    }

    @Test func aFailoverPickStaysInItsTierUnlessMostOfItJustFailed() {
        var view = TestBackends(count: 3)
        var random = FastRandom(seed: 1)
        view.justFailedUntil[1] = now + 1  // weight 1 of 3 just failed: the tier holds
        let stay = selector(view).plan(share: healthy, failedTier: 0, recentFailure: true, draw: true, random: &random)
        #expect(stay == TierPlan(first: 0, second: 1, filter: .available, avoidJustFailed: true))
        #expect(!selector(view).leavesTier(0))
        view.justFailedUntil[0] = now + 1  // 3 of 3: over half, go to standby first
        let leave = selector(view).plan(share: healthy, failedTier: 0, recentFailure: true, draw: true, random: &random)
        #expect(leave == TierPlan(first: 1, second: 0, filter: .available, avoidJustFailed: true))
        #expect(selector(view).leavesTier(0))
        #expect(!selector(view, hasStandby: false).leavesTier(0))
    }

    @Test func newRequestsStartOnStandbyWhileMostPrimariesJustFailedHere() {
        var view = TestBackends(count: 3)
        var random = FastRandom(seed: 1)
        view.justFailedUntil[0] = now + 1  // weight 2 of 3
        let p = selector(view).plan(share: healthy, failedTier: nil, recentFailure: true, draw: true, random: &random)
        #expect(p == TierPlan(first: 1, second: 0, filter: .available, avoidJustFailed: false))
        // Without a recent failure on this worker the scan is not even made.
        let quiet = selector(view).plan(share: healthy, failedTier: nil, recentFailure: false, draw: true, random: &random)
        #expect(quiet.first == 0)
    }

    @Test func onlyAvailableWeightCountsAsTheTiersWeight() {
        var view = TestBackends(count: 3)
        view.available[0] = false  // weight 2 out; weight 1 left, and it just failed
        view.justFailedUntil[1] = now + 1
        #expect(selector(view).mostlyJustFailed(tier: 0))
        view.justFailedUntil[1] = now  // the window ended
        #expect(!selector(view).mostlyJustFailed(tier: 0))
        view.available = [false, false, true]
        #expect(!selector(view).mostlyJustFailed(tier: 0))  // nothing available: not "failed"
    }

    @Test func theEligibilityOfAPlanCarriesItsFilter() {
        let e = TierPlan(first: 0, second: 1, filter: .available, avoidJustFailed: true).eligibility(tried: [2], limited: true, now: now)
        #expect(e.filter == .available && e.avoidJustFailed && e.tried == [2] && e.limited && e.now == now)
    }
}

@Suite struct TierSharesTests {
    @Test func sharesAreRecomputedOnlyWhenHealthOrTheClusterCountMoves() {
        var cache = TierShares()
        var computed = 0
        let share = TierShare(healthyPrimary: 1, totalPrimary: 2, standbyAvailable: true, overprovisioning: 1)
        func refresh(_ g: UInt64, _ clusters: Int, ejections: Bool = false, at now: UInt64) {
            cache.refresh(generation: g, clusters: clusters, ejectionsMade: ejections, now: now) { _ in
                computed += 1
                return share
            }
        }
        refresh(1, 2, at: 0)
        #expect(computed == 2 && cache.shares == [share, share])
        refresh(1, 2, at: 10_000_000_000)
        #expect(computed == 2)
        refresh(2, 2, at: 10_000_000_000)
        #expect(computed == 4)
        refresh(2, 3, at: 10_000_000_000)
        #expect(computed == 7)
        cache.invalidate()
        refresh(2, 3, at: 10_000_000_000)
        #expect(computed == 10)
    }

    @Test func whileEjectionsRunSharesRefreshEveryHundredMilliseconds() {
        var cache = TierShares()
        let share = TierShare(healthyPrimary: 1, totalPrimary: 1, standbyAvailable: false, overprovisioning: 1)
        cache.refresh(generation: 1, clusters: 1, ejectionsMade: true, now: 1_000_000_000) { _ in share }
        #expect(!cache.isStale(generation: 1, clusters: 1, ejectionsMade: true, now: 1_099_999_999))
        #expect(cache.isStale(generation: 1, clusters: 1, ejectionsMade: true, now: 1_100_000_000))
        #expect(!cache.isStale(generation: 1, clusters: 1, ejectionsMade: false, now: 9_000_000_000))
    }
}
