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

    @Test func aBackendAddedByReloadWaitsForItsFirstPasses() {
        var h = HealthCounter(healthy: false, rise: 1, fall: 3)
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
