import Testing

@testable import SluiceBalancing

/// The storm detector against recorded traffic shapes (TrafficShapes.swift): numbers for a
/// clock, one observation a second, seeded noise.
@Suite struct StormDetectorTests {
    /// 10 minutes of 800/s ± 10%, as the bench starts: the level is learned and nothing changes.
    func baseline(seed: UInt64, noise: Double = 0.1, capacity: Double? = nil) -> Replay {
        var replay = Replay(seed: seed, noise: .uniform(noise), capacity: capacity)
        let made = replay.play(600, Shape.flat(800))
        #expect(made.isEmpty, "seed \(seed): \(made.map(\.step)) during the baseline")
        return replay
    }

    @Test func flashSaleRampReachesStormWithinThreeSecondsOfItsStart() {
        var delays: [Double] = []
        for seed in 1...50 as ClosedRange<UInt64> {
            var replay = baseline(seed: seed)
            let start = replay.clock
            let made = replay.play(60, Shape.flashSale(base: 800, multiple: 5, ramp: 3))
            #expect(made.first?.change.to == .storm, "seed \(seed): \(made.map(\.step))")
            guard let storm = made.first(where: { $0.change.to == .storm }) else { continue }
            delays.append(storm.t - start)
            #expect(made.count == 1, "seed \(seed): \(made.map(\.step))")
        }
        // Seconds of 1.7×, 3×, 4.3×: the third observation is the first whose last 2 seconds
        // average 3× with neither under 2×; the 10 s mean is 1.8× then.
        #expect(delays.count == 50)
        #expect(delays.allSatisfy { $0 <= 3 }, "\(delays)")
    }

    @Test func flashSaleStormSaysWhyInNumbers() {
        var replay = baseline(seed: 7)
        let made = replay.play(10, Shape.flashSale(base: 800, multiple: 5, ramp: 3))
        let storm = made.first { $0.change.to == .storm }
        #expect(storm?.change.from == .calm)
        #expect(storm?.change.cause == .surge)
        let reason = storm?.change.reason ?? ""
        #expect(reason.hasPrefix("the last 2 s at "), "\(reason)")
        #expect(reason.contains("x the 10-minute level 8"), "\(reason)")
    }

    @Test func afterTheStormItStepsDownToCalmOnceAndStays() {
        var replay = baseline(seed: 3)
        let start = replay.clock
        replay.play(303, Shape.flashSale(base: 800, multiple: 5, ramp: 3, hold: 300))
        let end = replay.clock
        #expect(replay.detector.state == .storm)
        // The level did not learn the storm.
        #expect(abs(replay.detector.slowRate - 800) < 8, "\(replay.detector.slowRate)")
        replay.play(1_800, Shape.flat(800))
        #expect(replay.steps == ["calm→storm", "storm→rising", "rising→calm"], "\(replay.steps)")
        guard replay.events.count == 3 else { return }
        #expect(replay.events[0].t - start <= 3)
        // The fast rate is under 2× the level 8 s after the end; 30 s quiet later: rising.
        #expect(replay.events[1].t - end >= 30 && replay.events[1].t - end <= 40, "\(replay.events[1].t - end)")
        #expect(replay.events[1].change.cause == .quiet)
        // Rising lasts its 30 s at least, and z is back near 0 by then.
        #expect(replay.events[2].t - replay.events[1].t == 30)
        #expect(replay.detector.state == .calm)
    }

    @Test func aDailyCurveWithNoiseNeverLeavesCalm() {
        // A real day: ±40% over 24 hours, ±20% noise per second, capacity 3× the mean.
        for seed in 1...3 as ClosedRange<UInt64> {
            var replay = Replay(seed: seed, noise: .uniform(0.2), capacity: 2_400)
            var highest = -Double.infinity
            replay.play(86_400, Shape.daily(mean: 800, amplitude: 0.4, period: 86_400)) { _, d in
                if !d.isWarmingUp { highest = max(highest, d.z) }
            }
            #expect(replay.events.isEmpty, "seed \(seed): \(replay.steps)")
            #expect(highest < 2, "seed \(seed): z reached \(highest)")
        }
        // The same day compressed 6× (a 4-hour period, so the level lags the curve more), twice.
        for seed in 100...130 as ClosedRange<UInt64> {
            var replay = Replay(seed: seed, noise: .uniform(0.2), capacity: 2_400)
            replay.play(28_800, Shape.daily(mean: 800, amplitude: 0.4, period: 14_400))
            #expect(replay.events.isEmpty, "seed \(seed): \(replay.steps)")
        }
    }

    @Test func aOneSecondSpikeOfTenTimesDoesNotStorm() {
        var replay = baseline(seed: 11, capacity: 2_400)
        let start = replay.clock
        replay.play(300, Shape.spike(base: 800, multiple: 10, seconds: 1))
        #expect(replay.highest != .storm)
        // It is news (the 10 s mean is 1.9× the level for 10 s), so rising, then calm again.
        #expect(replay.steps == ["calm→rising", "rising→calm"], "\(replay.steps)")
        guard replay.events.count == 2 else { return }
        #expect(replay.events[0].t - start == 2)
        #expect(replay.events[1].t - start == 40)
        // Clipped before it was learned: the deviation is not blown up by the spike.
        #expect(replay.detector.deviation < 80, "\(replay.detector.deviation)")
    }

    @Test func aSustainedDoublingRisesButNeverStorms() {
        var replay = baseline(seed: 5, capacity: 4_000)
        let start = replay.clock
        replay.play(3_600, Shape.flat(1_600))
        #expect(replay.highest == .rising)
        #expect(replay.events.first?.step == "calm→rising")
        #expect((replay.events.first?.t ?? .infinity) - start <= 4)
        // Learned at a third of the speed while rising, the new level is accepted in the end.
        #expect(replay.steps == ["calm→rising", "rising→calm"], "\(replay.steps)")
        let calm = replay.events.last?.t ?? .infinity
        #expect(calm - start < 3_600, "\(calm - start)")
    }

    @Test func steadyGrowthTowardCapacityRisesWithAnETAThenStorms() {
        var replay = baseline(seed: 9, capacity: 1_400)
        let start = replay.clock
        var saturated: Double?
        replay.play(120, Shape.growing(base: 800, perSecond: 10)) { t, d in
            if saturated == nil, d.fastRate >= 1_400 { saturated = t }
        }
        #expect(replay.steps.prefix(2) == ["calm→rising", "rising→storm"], "\(replay.steps)")
        guard replay.events.count >= 2, let saturated else { return }
        let rising = replay.events[0]
        let storm = replay.events[1]
        #expect(rising.change.cause == .saturation, "\(rising.change.reason)")
        #expect(storm.change.cause == .saturation, "\(storm.change.reason)")
        #expect(storm.change.reason.contains("capacity 1400/s in"), "\(storm.change.reason)")
        // The ETAs came true: at rising the fit's 30 s still holds flat seconds, so it
        // underestimates the growth (7.7/s of 10) and predicts late, within a third of the time
        // left; at the storm the window is all growth and the prediction is within 2 s.
        var check = baseline(seed: 9, capacity: 1_400)
        var predicted: [Double: Double] = [:]
        check.play(120, Shape.growing(base: 800, perSecond: 10)) { t, d in
            if t == rising.t || t == storm.t, let eta = d.etaSeconds { predicted[t] = t + eta }
        }
        let atRising = predicted[rising.t] ?? 0
        let atStorm = predicted[storm.t] ?? 0
        #expect(atRising >= saturated && atRising - saturated <= (saturated - rising.t) / 3, "\(atRising) for \(saturated)")
        #expect(abs(atStorm - saturated) <= 2, "\(atStorm) for \(saturated)")
        #expect(rising.t - start <= 30 && storm.t - start <= 60, "\(rising.t - start), \(storm.t - start)")
    }

    @Test func anIdleClusterStaysCalmAndEveryOutputIsANumber() {
        for capacity in [nil, 0, 2_400] as [Double?] {
            var replay = Replay(seed: 1, noise: .uniform(0), capacity: capacity)
            replay.play(7_200, Shape.flat(0)) { _, d in
                #expect(d.fastRate == 0 && d.slowRate == 0 && d.deviation == 0 && d.z == 0)
                #expect(d.etaSeconds == nil && d.growth == nil)
            }
            #expect(replay.events.isEmpty)
            #expect(replay.detector.isWarmingUp)
        }
    }

    @Test func aQuietSiteDoesNotStormAtTenRequestsPerSecond() {
        var replay = Replay(seed: 2, noise: .poisson)
        replay.play(1_200, Shape.flat(3))
        replay.play(600, Shape.flat(10))
        #expect(replay.highest != .storm, "\(replay.steps)")
    }

    @Test func noiseAloneNeverTriggersOverTwoHundredSeeds() {
        for seed in 1...200 as ClosedRange<UInt64> {
            var busy = Replay(seed: seed, noise: .uniform(0.2), capacity: 2_400)
            busy.play(1_800, Shape.flat(800))
            #expect(busy.events.isEmpty, "seed \(seed), 800/s ± 20%: \(busy.steps)")
            var quiet = Replay(seed: seed, noise: .poisson)
            quiet.play(1_800, Shape.flat(3))
            #expect(quiet.events.isEmpty, "seed \(seed), Poisson 3/s: \(quiet.steps)")
        }
    }

    @Test func aProcessThatJustStartedLearnsItsRampFromZero() {
        var replay = Replay(seed: 4, noise: .uniform(0.1), capacity: 2_400, start: 0)
        replay.play(5, Shape.flat(0))
        #expect(replay.detector.isWarmingUp)
        replay.play(10, Shape.growing(base: 0, perSecond: 80))
        replay.play(1_800, Shape.flat(800))
        #expect(replay.events.isEmpty, "\(replay.steps)")
        #expect(!replay.detector.isWarmingUp)
        #expect(abs(replay.detector.slowRate - 800) < 20, "\(replay.detector.slowRate)")
    }

    @Test func theFirstMinuteOfTrafficIsOnlyLearned() {
        var replay = Replay(seed: 4, noise: .uniform(0.1), start: 0)
        replay.play(20, Shape.flat(800))
        replay.play(39, Shape.flat(4_000))
        #expect(replay.events.isEmpty, "\(replay.steps)")
        #expect(replay.detector.isWarmingUp)
    }

    @Test func oddInputsGiveNumbersNotNaN() {
        var d = StormDetector()
        var t = 0.0
        for _ in 0..<120 {
            t += 1
            _ = d.observe(arrivals: 800, capacity: 2_400, at: t)
        }
        let odd: [(Double, Double?, Double)] = [
            (.nan, 2_400, t + 1), (-5, .nan, t + 2), (.infinity, 0, t + 3), (800, -1, t + 3), (800, .infinity, t + 2),
            (800, nil, .nan), (800, 2_400, .infinity), (800, 2_400, -.infinity), (2_400, 2_400, t + 7),
        ]
        for (arrivals, capacity, at) in odd {
            _ = d.observe(arrivals: arrivals, capacity: capacity, at: at)
            for x in [d.fastRate, d.slowRate, d.deviation, d.z, d.surgeRate, d.etaSeconds ?? 0, d.growth ?? 0] {
                #expect(x.isFinite, "\(arrivals), \(String(describing: capacity)), \(at)")
            }
        }
        #expect(d.state != .storm)
    }

    @Test func aLateObservationCoversTheTimeSinceThePreviousOne() {
        var d = StormDetector()
        for t in 1...100 { _ = d.observe(arrivals: 800, capacity: nil, at: Double(t)) }
        _ = d.observe(arrivals: 2_400, capacity: nil, at: 103)
        #expect(d.fastRate == 800)
        #expect(d.state == .calm)
    }

    @Test func numbersInReasonsAreRoundedForPeople() {
        #expect(StormDetector.number(4_100.4, decimals: 0) == "4100")
        #expect(StormDetector.number(5.14, decimals: 1) == "5.1")
        #expect(StormDetector.number(0.05, decimals: 1) == "0.1")
        #expect(StormDetector.number(-0.04, decimals: 1) == "0.0")
        #expect(StormDetector.number(-2.25, decimals: 2) == "-2.25")
        #expect(StormDetector.number(.nan, decimals: 1) == "?")
        #expect(StormDetector.rate(7.26) == "7.3")
        #expect(StormDetector.rate(812.5) == "813")
    }
}
