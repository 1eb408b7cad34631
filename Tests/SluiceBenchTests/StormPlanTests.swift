import Testing

@testable import SluiceBenchKit

/// The storm cases' planning and figures: numbers only.
@Suite struct StormPlanTests {
    @Test func stormPlanRampsToTheFactorOverThreeSecondsAndKeepsItsNoiseInBounds() {
        let plan = StormPlan(mode: .storm)
        #expect(plan.totalSeconds == 153)
        #expect(plan.phases.map(\.name) == ["baseline", "ramp", "surge", "after"])
        let ramp = (90..<93).map { plan.multiple(atSecond: $0) }
        #expect(ramp.map { Int(($0 * 100).rounded()) } == [167, 300, 433])
        #expect(plan.multiple(atSecond: 89) == 1)
        #expect(plan.multiple(atSecond: 93) == 5)
        #expect(plan.multiple(atSecond: 112) == 5)
        #expect(plan.multiple(atSecond: 113) == 1)
        #expect(plan.multiple(atSecond: 153) == 0)
        let rates = plan.rates
        #expect(rates.count == 153)
        #expect(rates == plan.rates)
        #expect(rates[..<90].allSatisfy { $0 >= 360 && $0 <= 440 })
        #expect(rates[93..<113].allSatisfy { $0 >= 1800 && $0 <= 2200 })
        // The noise is noise: not one value repeated, spread over most of its band.
        let base = rates[..<90]
        #expect(Set(base).count > 40)
        #expect(base.min()! < 370 && base.max()! > 430)
        var other = plan
        other.seed = 2
        #expect(other.rates != rates)
    }

    @Test func noisePlanIsOnePhaseOfBaselineOnly() {
        let plan = StormPlan(mode: .noise)
        #expect(plan.phases == [CasePhase(name: "noise", seconds: 300)])
        #expect(plan.rates.allSatisfy { $0 >= 360 && $0 <= 440 })
    }

    @Test func figuresMeasureFromTheSurgeAndCountBaselineChanges() {
        let plan = StormPlan(mode: .storm)
        func c(_ at: Double, _ from: String, _ to: String) -> StormResult.Change {
            StormResult.Change(at: at, from: from, to: to, rate10s: 0, rate10m: 0)
        }
        let clean = StormFigures.of(
            [c(1, "-", "calm"), c(92.8, "calm", "storm"), c(150.5, "storm", "rising")], plan: plan)
        #expect(clean.baselineChanges == 0)
        #expect(clean.toRising == nil)
        #expect(abs(clean.toStorm! - 2.8) < 1e-9)
        #expect(abs(clean.stormToRisingAfterSurge! - 37.5) < 1e-9)
        #expect(clean.toCalmAfterSurge == nil)
        let noisy = StormFigures.of(
            [c(1, "-", "calm"), c(70, "calm", "rising"), c(88, "rising", "calm"), c(91.5, "calm", "rising"), c(92.5, "rising", "storm")],
            plan: plan)
        #expect(noisy.baselineChanges == 2)
        #expect(noisy.toRising == 1.5)
        #expect(noisy.toStorm == 2.5)
        let noise = StormFigures.of([c(1, "-", "calm"), c(200, "calm", "rising")], plan: StormPlan(mode: .noise))
        #expect(noise.baselineChanges == 1)
        // The step down from the storm is not the way up.
        let down = StormFigures.of([c(1, "-", "calm"), c(93, "calm", "storm"), c(150, "storm", "rising")], plan: plan)
        #expect(down.toRising == nil)
    }

    @Test func pollerReadsTheClusterStateAndRatesFromPrometheusText() {
        let page = """
            # TYPE sluice_traffic_rate gauge
            sluice_traffic_rate{cluster="app",window="10s"} 2012.5
            sluice_traffic_rate{cluster="app",window="10m"} 401
            sluice_traffic_rate{cluster="apps",window="10s"} 9
            sluice_traffic_state{cluster="app",state="calm"} 0
            sluice_traffic_state{cluster="app",state="rising"} 0
            sluice_traffic_state{cluster="app",state="storm"} 1
            sluice_traffic_state{cluster="apps",state="calm"} 1
            """
        let p = TrafficStatePoller.parse(page, cluster: "app")
        #expect(p.state == "storm")
        #expect(p.rate10s == 2012.5)
        #expect(p.rate10m == 401)
        #expect(TrafficStatePoller.parse(page, cluster: "apps").state == "calm")
        #expect(TrafficStatePoller.parse(page, cluster: "web").state == nil)
    }
}
