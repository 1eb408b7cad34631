import Testing

@testable import SluiceBalancing
@testable import SluiceProxy

/// The shared side of `limits.adaptive`: samples in from workers, the tuner's tick, the limit
/// read through `ClusterRuntime.limit(for:)`.
@Suite struct AdaptiveLimitRuntimeTests {
    let ms: UInt64 = 1_000_000

    @Test func samplesMoveTheLimitOnlyOnceThereAreEnough() {
        let a = AdaptiveLimit()
        var now: UInt64 = 1_000 * ms
        a.tick(now: now, maximum: 200)
        #expect(a.limit == 4)  // starts at the floor
        // Requests answered 10 ms after they were sent, 4 at a time (40 per 100 ms): the
        // latency stays flat, so the limit grows, up to twice what is in use (4 → 6 → 8).
        for _ in 0..<5 {
            for _ in 0..<40 { a.record(sentAt: now, now: now + 10 * ms) }
            now += 100 * ms
            a.tick(now: now, maximum: 200)
        }
        let grown = a.limit
        #expect(grown == 8, "\(grown)")
        #expect(a.minLatency == Double(10 * ms))
        // A head that came before the request ended is no sample; too few samples wait.
        a.record(sentAt: 0, now: now)
        for _ in 0..<(AdaptiveConcurrency.minSamples - 1) { a.record(sentAt: now, now: now + 900 * ms) }
        now += 100 * ms
        a.tick(now: now, maximum: 200)
        #expect(a.limit == grown)
        // ... until a second has passed: then they are dropped as too few, still no change.
        now += AdaptiveConcurrency.maxInterval
        a.tick(now: now, maximum: 200)
        #expect(a.limit == grown && a.minLatency == Double(10 * ms))
        // A reload's lower maximum holds at the next tick.
        a.tick(now: now + 100 * ms, maximum: 6)
        #expect(a.limit == 6)
    }

    @Test func theClusterReadsTheAdaptiveLimitOnlyWhenAdaptive() throws {
        let b = try backend("a")
        for adaptive in [true, false] {
            let proxy = try ProxyFixture.simple(
                [b], cluster: "    limits: { max_requests_per_backend: 200, adaptive: \(adaptive) }")
            let c = proxy.server.snapshot.clusters[0]
            #expect(c.adaptive == adaptive)
            #expect(c.limit(for: c.backends[0]) == (adaptive ? 4 : 200))
        }
        let plain = try ProxyFixture.simple([b])
        let c = plain.server.snapshot.clusters[0]
        #expect(c.limit(for: c.backends[0]) == .max)
    }
}
