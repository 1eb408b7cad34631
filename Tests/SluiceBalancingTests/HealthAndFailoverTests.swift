import Testing

@testable import SluiceBalancing

@Suite struct HealthAndFailoverTests {
    @Test func fallFailuresMakeUnhealthyAndRisePassesRecover() {
        var h = HealthCounter(healthy: true, rise: 2, fall: 3)
        #expect(h.record(pass: false) == nil)
        #expect(h.record(pass: false) == nil)
        #expect(h.record(pass: true) == nil)  // a pass resets the failure run
        #expect(h.record(pass: false) == nil)
        #expect(h.record(pass: false) == nil)
        #expect(h.record(pass: false) == false)
        #expect(!h.healthy)
        #expect(h.record(pass: true) == nil)
        #expect(h.record(pass: false) == nil)  // a failure resets the pass run
        #expect(h.record(pass: true) == nil)
        #expect(h.record(pass: true) == true)
        #expect(h.healthy)
    }

    @Test func anUnhealthyCounterTurnsHealthyAtItsRisePasses() {
        var h = HealthCounter(healthy: false, rise: 2, fall: 3)
        #expect(h.record(pass: true) == nil)
        #expect(h.record(pass: true) == true)
    }

    @Test func allPrimariesHealthyKeepEverythingOnPrimaries() {
        #expect(TierShare(healthyPrimary: 9, totalPrimary: 9, standbyAvailable: true, overprovisioning: 1.4).standby == 0)
    }

    @Test func failoverSpillsToStandbyBelow71Percent() {
        // 5:3:1 with the weight-5 backend down: 4/9 healthy, ×1.4 = 0.622 stays on primaries.
        let s = TierShare(healthyPrimary: 4, totalPrimary: 9, standbyAvailable: true, overprovisioning: 1.4)
        #expect(abs(s.standby - (1 - 1.4 * 4 / 9)) < 1e-9)
        // At 1/1.4 ≈ 71.4% healthy the primaries still carry everything.
        #expect(TierShare(healthyPrimary: 72, totalPrimary: 100, standbyAvailable: true, overprovisioning: 1.4).standby == 0)
        #expect(TierShare(healthyPrimary: 70, totalPrimary: 100, standbyAvailable: true, overprovisioning: 1.4).standby > 0)
    }

    @Test func noHealthyStandbyMeansPrimariesTakeAllAndAllDownIsReported() {
        let s = TierShare(healthyPrimary: 1, totalPrimary: 9, standbyAvailable: false, overprovisioning: 1.4)
        #expect(s.standby == 0)
        #expect(!s.allDown)
        #expect(TierShare(healthyPrimary: 0, totalPrimary: 9, standbyAvailable: false, overprovisioning: 1.4).allDown)
        #expect(TierShare(healthyPrimary: 0, totalPrimary: 9, standbyAvailable: true, overprovisioning: 1.4).standby == 1)
    }
}

@Suite struct OutlierPolicyTests {
    let s: UInt64 = 1_000_000_000

    @Test func ejectionTimeDoublesAndIsCapped() {
        let p = OutlierPolicy(consecutiveFailures: 5, baseEjection: 10 * s, maxEjection: 300 * s, maxEjectedShare: 0.5)
        #expect(p.ejectionTime(previousEjections: 0) == 10 * s)
        #expect(p.ejectionTime(previousEjections: 1) == 20 * s)
        #expect(p.ejectionTime(previousEjections: 4) == 160 * s)
        #expect(p.ejectionTime(previousEjections: 5) == 300 * s)
        #expect(p.ejectionTime(previousEjections: 60) == 300 * s)
    }

    @Test func theDoublingStreakEndsAfterAQuietMaxEjection() {
        let p = OutlierPolicy(consecutiveFailures: 5, baseEjection: 10 * s, maxEjection: 300 * s, maxEjectedShare: 0.5)
        #expect(p.streak(3, lastEnd: 0, now: 1_000 * s) == 0)  // never ejected
        #expect(p.streak(3, lastEnd: 1_000 * s, now: 1_100 * s) == 3)  // ejected again soon: doubles on
        #expect(p.streak(3, lastEnd: 1_000 * s, now: 1_299 * s) == 3)
        #expect(p.streak(3, lastEnd: 1_000 * s, now: 1_300 * s) == 0)  // quiet for max_ejection: from base
    }

    @Test func neverEjectsMoreThanTheShareOfATier() {
        let p = OutlierPolicy(consecutiveFailures: 5, baseEjection: s, maxEjection: 10 * s, maxEjectedShare: 0.5)
        #expect(p.mayEject(alreadyEjected: 0, tierSize: 4))
        #expect(p.mayEject(alreadyEjected: 1, tierSize: 4))
        #expect(!p.mayEject(alreadyEjected: 2, tierSize: 4))
        #expect(p.mayEject(alreadyEjected: 0, tierSize: 3))
        #expect(!p.mayEject(alreadyEjected: 1, tierSize: 3))
        #expect(!p.mayEject(alreadyEjected: 0, tierSize: 1))
    }
}

@Suite struct SlowStartTests {
    @Test func rampsFromTenPercentToFullWeight() {
        let s: UInt64 = 1_000_000_000
        let x = SlowStart.scale
        #expect(SlowStart.scaledWeight(100, elapsed: 0, duration: 30 * s) == 10 * x)
        #expect(SlowStart.scaledWeight(100, elapsed: 15 * s, duration: 30 * s) == 55 * x)
        #expect(SlowStart.scaledWeight(100, elapsed: 30 * s, duration: 30 * s) == 100 * x)
        #expect(SlowStart.scaledWeight(5, elapsed: 0, duration: 0) == 5 * x)
        #expect(SlowStart.scaledWeight(0, elapsed: 0, duration: 30 * s) == 0)
    }

    @Test func aWeightOneBackendRampsFractionallyToo() {
        let s: UInt64 = 1_000_000_000
        // 10% of weight 1 is a tenth of a full peer's share, not a whole weight of 1.
        #expect(SlowStart.scaledWeight(1, elapsed: 0, duration: 30 * s) == SlowStart.scale / 10)
        #expect(SlowStart.scaledWeight(1, elapsed: 15 * s, duration: 30 * s) == SlowStart.scale * 55 / 100)
        #expect(SlowStart.scaledWeight(1, elapsed: 30 * s, duration: 30 * s) == SlowStart.scale)
    }

    @Test func aRampingPrimaryCountsFractionallyInTheFailoverShare() {
        // Three weight-1 primaries, one just back (10%): 2.1 of 3 healthy, x1.4 = 98% stay.
        let x = SlowStart.scale
        let ramped = 2 * x + SlowStart.scaledWeight(1, elapsed: 0, duration: 1_000_000_000)
        let share = TierShare(healthyPrimary: ramped, totalPrimary: 3 * x, standbyAvailable: true, overprovisioning: 1.4)
        #expect(abs(share.standby - (1 - 1.4 * 2.1 / 3)) < 1e-9)
    }
}
