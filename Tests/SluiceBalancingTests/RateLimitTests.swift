import Testing

@testable import SluiceBalancing

/// GCRA arithmetic over a controllable clock (nanoseconds).
@Suite struct RateLimitTests {
    let second: UInt64 = 1_000_000_000

    /// Runs `n` requests at `now` through `rule`, updating `tat`; returns how many were allowed.
    func send(_ n: Int, at now: UInt64, _ rule: RateLimit, _ tat: inout UInt64) -> Int {
        var allowed = 0
        for _ in 0..<n {
            if case .allowed(let next) = rule.decide(tat: tat, now: now) {
                tat = next
                allowed += 1
            }
        }
        return allowed
    }

    @Test func aFreshClientGetsItsBurstThenOneRequestPerInterval() {
        let rule = RateLimit(rate: 10, burst: 5)
        #expect(rule.interval == 100_000_000)
        #expect(rule.tolerance == 400_000_000)
        var tat: UInt64 = 0
        let t0 = 1_000 * second
        #expect(send(20, at: t0, rule, &tat) == 5)
        // One interval later exactly one more; half an interval later none.
        #expect(send(5, at: t0 + 50_000_000, rule, &tat) == 0)
        #expect(send(5, at: t0 + 100_000_000, rule, &tat) == 1)
        // Sustained: one request every 100 ms is always allowed.
        for k in 2...50 {
            #expect(send(1, at: t0 + UInt64(k) * 100_000_000, rule, &tat) == 1)
        }
    }

    @Test func aRefusalNamesTheExactWaitAndItsRetryAfterRoundsUp() {
        let rule = RateLimit(rate: 2, burst: 3)  // T = 500 ms, tau = 1 s
        var tat: UInt64 = 0
        let t0 = 50 * second
        #expect(send(3, at: t0, rule, &tat) == 3)  // TAT = t0 + 1.5 s
        #expect(rule.decide(tat: tat, now: t0) == .refused(wait: 500_000_000))
        #expect(rule.decide(tat: tat, now: t0 + 123_456_789) == .refused(wait: 376_543_211))
        #expect(rule.decide(tat: tat, now: t0 + 500_000_000) == .allowed(tat: t0 + 2 * second))
        #expect(RateLimit.retryAfterSeconds(wait: 500_000_000) == 1)
        #expect(RateLimit.retryAfterSeconds(wait: 1) == 1)
        #expect(RateLimit.retryAfterSeconds(wait: 0) == 1)
        #expect(RateLimit.retryAfterSeconds(wait: second) == 1)
        #expect(RateLimit.retryAfterSeconds(wait: second + 1) == 2)
        #expect(RateLimit.retryAfterSeconds(wait: 59 * second + 999_999_999) == 60)
    }

    @Test func aLongIdleGivesTheFullBurstBackButNoMore() {
        let rule = RateLimit(rate: 5, burst: 10)
        var tat: UInt64 = 0
        #expect(send(10, at: second, rule, &tat) == 10)
        #expect(send(10, at: second, rule, &tat) == 0)
        // An hour idle: the burst again, not an hour's worth of credit.
        #expect(send(100, at: 3_601 * second, rule, &tat) == 10)
    }

    @Test func aFractionalRateAllowsOneRequestEveryTwoSeconds() {
        let rule = RateLimit(rate: 0.5, burst: 1)
        #expect(rule.interval == 2 * second)
        #expect(rule.tolerance == 0)
        var tat: UInt64 = 0
        #expect(send(3, at: 10 * second, rule, &tat) == 1)
        #expect(rule.decide(tat: tat, now: 11 * second) == .refused(wait: second))
        #expect(RateLimit.retryAfterSeconds(wait: second) == 1)
        #expect(rule.decide(tat: tat, now: 10 * second + 1) == .refused(wait: 2 * second - 1))
        #expect(RateLimit.retryAfterSeconds(wait: 2 * second - 1) == 2)
        #expect(send(3, at: 12 * second, rule, &tat) == 1)
        // 600/m is 10/s.
        #expect(RateLimit(rate: 600.0 / 60, burst: 1).interval == 100_000_000)
    }

    @Test func aLargeBurstIsCountedExactly() {
        let rule = RateLimit(rate: 1_000, burst: 100_000)
        var tat: UInt64 = 0
        #expect(send(150_000, at: second, rule, &tat) == 100_000)
        // 2.5 s later: 2,500 more.
        #expect(send(10_000, at: second + 2_500_000_000, rule, &tat) == 2_500)
    }

    @Test func nothingOverflowsAtExtremeClocksAndConfigurations() {
        let late = UInt64.max - 10 * second
        let rule = RateLimit(rate: 1, burst: 5)
        var tat: UInt64 = 0
        #expect(send(10, at: late, rule, &tat) == 5)
        #expect(rule.decide(tat: tat, now: late) == .refused(wait: second))
        // At the very end of the clock TAT saturates rather than trapping or wrapping.
        #expect(rule.decide(tat: 0, now: UInt64.max - 1) == .allowed(tat: UInt64.max))
        #expect(rule.spentState(now: UInt64.max - 1) == UInt64.max)
        // Absurd configurations clamp instead of trapping.
        let slow = RateLimit(rate: 1e-30, burst: 10_000_000)
        #expect(slow.interval > 0 && slow.tolerance <= UInt64.max / 2)
        let fast = RateLimit(rate: 1e12, burst: 1)
        #expect(fast.interval == 1)
        var t3: UInt64 = 0
        #expect(send(3, at: 5, fast, &t3) == 1)
        #expect(RateLimit.retryAfterSeconds(wait: UInt64.max) == Int(Int32.max))
    }
}
