import Testing

@testable import SluiceBalancing

/// A backend with `workers` requests served at once, as the tests see it: with `inflight`
/// requests in it, each takes `service × max(1, inflight / workers)` (the rest queue inside).
/// `clients` requests are always offered (closed loop); Sluice lets in at most the limit.
struct QueueingBackend {
    var workers: Double
    var service: Double  // ns
    var clients: Double
    /// ± this share of uniform noise per response, and a share of responses 10× slower.
    var noise = 0.0
    var outliers = 0.0
    /// ± this share of uniform noise on the number of responses an interval sees (responses
    /// end in bunches), which makes the in-flight estimate (sum / elapsed) noisy too.
    var countNoise = 0.0
    /// Share of the previous interval's latency in this one's: the responses that end now
    /// entered the queue of a moment ago, so a change shows over a few intervals (0: at once).
    var lag = 0.0
    var lastLatency = 0.0
    var random = FastRandom(seed: 42)

    /// One interval of `elapsed` ns at `limit`: the responses' count and latency sum.
    mutating func interval(limit: Int, elapsed: UInt64) -> (samples: Int, sum: UInt64) {
        let inflight = min(Double(limit), clients)
        let steady = service * max(1, inflight / workers)
        let latency = lastLatency == 0 ? steady : lag * lastLatency + (1 - lag) * steady
        lastLatency = latency
        let expected = inflight * Double(elapsed) / latency
        let samples = Int((expected * (1 + countNoise * (unit() * 2 - 1))).rounded())
        var sum = 0.0
        for _ in 0..<samples {
            var x = latency * (1 + noise * (unit() * 2 - 1))
            if unit() < outliers { x *= 10 }
            sum += x
        }
        return (samples, UInt64(sum))
    }

    private mutating func unit() -> Double { Double(random.next() % 1_000_000) / 1_000_000 }
}

@Suite struct AdaptiveConcurrencyTests {
    let ms = 1_000_000.0

    /// Runs `seconds` of 100 ms ticks as the tuner does (samples accumulate while fewer than
    /// `minSamples`, for up to `maxInterval`); `slowing` multiplies the service time per tick.
    /// Returns the limit after each tick.
    func run(_ a: inout AdaptiveConcurrency, _ b: inout QueueingBackend, seconds: Double, slowing: Double = 1) -> [Int] {
        var limits: [Int] = []
        var (count, sum, elapsed): (Int, UInt64, UInt64) = (0, 0, 0)
        for _ in 0..<Int(seconds * 10) {
            let (n, s) = b.interval(limit: a.limit, elapsed: AdaptiveConcurrency.interval)
            count += n
            sum += s
            elapsed += AdaptiveConcurrency.interval
            if count >= AdaptiveConcurrency.minSamples || elapsed >= AdaptiveConcurrency.maxInterval {
                a.update(samples: count, latencySum: sum, elapsed: elapsed)
                (count, sum, elapsed) = (0, 0, 0)
            }
            limits.append(a.limit)
            b.service *= slowing
        }
        return limits
    }

    @Test func aSteadyBackendIsHeldNearWhatItServesAtOnce() {
        var a = AdaptiveConcurrency(maximum: 200)
        var b = QueueingBackend(workers: 16, service: 10 * ms, clients: 400)
        let limits = run(&a, &b, seconds: 30)
        // From the floor to the backend's concurrency within a second, then held there: a
        // queue of about √limit inside the backend, not the 200 the configuration allows.
        #expect(limits[9] >= 16, "\(limits.prefix(12))")
        #expect(limits.dropFirst(20).allSatisfy { $0 >= 16 && $0 <= 28 }, "\(limits)")
    }

    @Test func aDoubledServiceTimeKeepsTheLimitNearTheConcurrencyWithinFiveSeconds() {
        var a = AdaptiveConcurrency(maximum: 200)
        var b = QueueingBackend(workers: 16, service: 10 * ms, clients: 400)
        _ = run(&a, &b, seconds: 10)
        let before = a.limit
        b.service *= 2
        let after = run(&a, &b, seconds: 15)
        // The latency doubled without a queue: cut for a moment, then the slower latency is
        // the new normal (the limit does not collapse to the floor, nor rise).
        #expect(after.min()! >= 8, "\(after)")
        #expect(after.dropFirst(50).allSatisfy { $0 >= 12 && $0 <= 28 }, "before \(before): \(after)")
        #expect(a.minLatency >= 19 * ms)
    }

    @Test func aBackendThatLosesConcurrencyIsCutAndRecoveryRaisesTheLimitAgain() {
        var a = AdaptiveConcurrency(maximum: 200)
        var b = QueueingBackend(workers: 40, service: 10 * ms, clients: 400)
        _ = run(&a, &b, seconds: 10)
        let healthy = a.limit
        #expect(healthy >= 40 && healthy <= 60)
        b.workers = 8  // a database lock: five times fewer requests served at once
        let degraded = run(&a, &b, seconds: 5)
        #expect(degraded.last! <= 16, "\(degraded)")
        b.workers = 40
        let recovered = run(&a, &b, seconds: 5)
        #expect(recovered.last! >= 40, "\(recovered)")
    }

    /// The end-to-end test's backend (`AdaptiveLimitTests`): 16 workers at 20 ms, then 4, then
    /// 40 ms a request, offered 40 at once. The cut to 4 workers lowers the latency with the
    /// limit (the queue shrinks); the doubled service time then brings it back to about what
    /// it was early in that cut, 2 s before, within the 20 intervals remembered. Comparing
    /// only those two intervals took it for "slower, not queueing": the minimum jumped to the
    /// latency, the gradient was 1 and the limit rose (8 → 11, 12, 13 at lags 0.3, 0.5, 0.7;
    /// 7 → 12 or 10 → 13 on the real binary). With a lag, the latency follows a change over a
    /// few intervals, as measured on the real binary (half of it in the first 200 ms).
    @Test(arguments: [0.0, 0.3, 0.5, 0.7])
    func aDoubledServiceTimeAfterALossOfCapacityDoesNotRaiseTheLimit(lag: Double) {
        var a = AdaptiveConcurrency(maximum: 200)
        var b = QueueingBackend(workers: 16, service: 20 * ms, clients: 40, lag: lag)
        let wide = run(&a, &b, seconds: 2)
        #expect(wide.last! >= 14 && wide.last! <= 40, "with 16 workers: \(wide)")
        b.workers = 4
        let narrow = run(&a, &b, seconds: 3)
        #expect(narrow.suffix(2).allSatisfy { $0 >= 4 && $0 <= 12 }, "with 4 workers: \(narrow)")
        b.service *= 2
        let slower = run(&a, &b, seconds: 2.5) + run(&a, &b, seconds: 10)
        // The end-to-end bound, and here (no noise) no rise at all: still a queue, still cut.
        #expect(slower.allSatisfy { $0 >= 4 && $0 <= max(12, narrow.last! + 2) }, "at 40 ms: \(slower)")
        #expect(slower.max()! <= narrow.last!, "at 40 ms, from \(narrow.last!): \(slower)")
    }

    @Test func noisyLatencyDoesNotCollapseTheLimit() {
        var a = AdaptiveConcurrency(maximum: 200)
        var b = QueueingBackend(workers: 16, service: 10 * ms, clients: 400, noise: 0.5, outliers: 0.01, countNoise: 0.4)
        let limits = run(&a, &b, seconds: 30)
        #expect(limits.dropFirst(20).allSatisfy { $0 >= 14 && $0 <= 40 }, "\(limits)")
        // A slow backend whose intervals see few responses, in uneven bunches: no ratchet up.
        var few = AdaptiveConcurrency(maximum: 200)
        var fb = QueueingBackend(workers: 4, service: 40 * ms, clients: 40, countNoise: 0.5)
        let fewLimits = run(&few, &fb, seconds: 30)
        #expect(fewLimits.dropFirst(50).allSatisfy { $0 >= 4 && $0 <= 12 }, "\(fewLimits)")

        // Lightly loaded (12 requests at a time, room for 32): never below what is offered.
        var light = AdaptiveConcurrency(maximum: 200)
        var lb = QueueingBackend(workers: 32, service: 10 * ms, clients: 12, noise: 0.5, outliers: 0.01)
        let lightLimits = run(&light, &lb, seconds: 30)
        #expect(lightLimits.dropFirst(20).allSatisfy { $0 >= 12 }, "\(lightLimits)")
        // ... and an idle backend's limit does not climb to the maximum (at most 2× in use + √).
        #expect(lightLimits.max()! <= 40, "\(lightLimits)")
    }

    @Test func theLimitStaysBetweenFourAndTheMaximum() {
        var a = AdaptiveConcurrency(maximum: 200)
        var fast = QueueingBackend(workers: 1_000, service: 1 * ms, clients: 1_000)
        let up = run(&a, &fast, seconds: 5)
        #expect(up.max()! == 200 && up.last! == 200)  // from 4 to 200 in about 2.5 s

        // Now a backend that serves one request at a time: cut from 200 to the floor and its
        // headroom (4 + √limit ≈ 6.5), never below 4.
        var one = QueueingBackend(workers: 1, service: 1 * ms, clients: 400)
        let down = run(&a, &one, seconds: 15)
        #expect(down.min()! >= 4 && down.suffix(50).allSatisfy { $0 <= 8 }, "\(down)")

        var tiny = AdaptiveConcurrency(maximum: 2)
        var t = QueueingBackend(workers: 8, service: 1 * ms, clients: 100)
        #expect(run(&tiny, &t, seconds: 2).allSatisfy { $0 == 2 })
    }

    @Test func anIntervalWithTooFewSamplesChangesNothing() {
        var a = AdaptiveConcurrency(maximum: 200)
        var b = QueueingBackend(workers: 50, service: 1 * ms, clients: 100)
        _ = run(&a, &b, seconds: 1)
        let (limit, floor) = (a.limit, a.minLatency)
        #expect(limit > 4)
        // Seven very slow responses: no cut, no new minimum.
        let n = AdaptiveConcurrency.minSamples - 1
        #expect(a.update(samples: n, latencySum: UInt64(n) * 1_000_000_000, elapsed: AdaptiveConcurrency.interval) == limit)
        #expect(a.minLatency == floor)
        #expect(a.update(samples: 0, latencySum: 0, elapsed: 0) == limit)
    }

    @Test func aLowerMaximumClampsAtOnce() {
        var a = AdaptiveConcurrency(maximum: 200)
        var b = QueueingBackend(workers: 1_000, service: 1 * ms, clients: 1_000)
        _ = run(&a, &b, seconds: 5)
        a.setMaximum(50)
        #expect(a.limit == 50)
        #expect(run(&a, &b, seconds: 1).allSatisfy { $0 == 50 })
    }
}
