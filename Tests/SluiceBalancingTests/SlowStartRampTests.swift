import Testing

@testable import SluiceBalancing

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
