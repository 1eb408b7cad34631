import Foundation
import Synchronization
import Testing

@testable import SluiceBalancing

/// The shared GCRA table: exact across threads, bounded, and never letting a limited client
/// come back with a full burst after an eviction.
@Suite struct RateLimitTableTests {
    let second: UInt64 = 1_000_000_000

    func allowed(_ t: RateLimitTable, key: UInt64, _ n: Int, at now: UInt64) -> Int {
        (0..<n).reduce(0) { acc, _ in
            if case .allowed = t.check(key: key, now: now) { return acc + 1 }
            return acc
        }
    }

    /// Keys that all land in one bucket of `t` (the bucket is picked by bits 17 and up).
    func sameBucketKeys(_ count: Int) -> [UInt64] { (1...count).map { UInt64($0) } }

    @Test func eachKeyHasItsOwnBurstAndRefusalsCarryTheWait() {
        let t = RateLimitTable(RateLimit(rate: 2, burst: 3), capacity: 1024)
        let now = 100 * second
        #expect(allowed(t, key: 11, 10, at: now) == 3)
        #expect(allowed(t, key: 22, 10, at: now) == 3)
        #expect(t.check(key: 11, now: now + 100_000_000) == .refused(wait: 400_000_000))
        #expect(allowed(t, key: 11, 10, at: now + 500_000_000) == 1)
        #expect(t.evictions == 0)
    }

    @Test func anExpiredEntryIsLikeNoEntryAndItsPlaceIsReused() {
        let t = RateLimitTable(RateLimit(rate: 10, burst: 2), capacity: 8)  // one bucket
        #expect(t.capacity == 8)
        let keys = sameBucketKeys(8)
        for k in keys { #expect(allowed(t, key: k, 2, at: second) == 2) }
        // 1 s later every TAT (second + 200 ms) has passed: eight new clients fit without evicting.
        for k in keys { #expect(allowed(t, key: k + 100, 2, at: 2 * second) == 2) }
        #expect(t.evictions == 0)
        // And an old client returning now is fresh again.
        #expect(allowed(t, key: keys[0], 5, at: 3 * second) == 2)
    }

    @Test func aLiveClientIsEvictedOnlyFromAFullBucketAndComesBackLimited() {
        let rule = RateLimit(rate: 1, burst: 5)  // T = 1 s, tau = 4 s
        let t = RateLimitTable(rule, capacity: 8)
        let now = 10 * second
        let keys = sameBucketKeys(8)
        // Eight limited clients fill the bucket (each TAT = now + 5 s).
        for k in keys { #expect(allowed(t, key: k, 10, at: now) == 5) }
        #expect(t.evictions == 0)
        // A ninth client must evict one of them; it starts with its burst spent: one request now.
        #expect(allowed(t, key: 999, 10, at: now) == 1)
        #expect(t.evictions == 1)
        #expect(t.pressure(forKey: 999) == now + 5 * second)
        // Whoever was evicted comes back limited (burst spent, perhaps evicting again), never
        // with a fresh burst of 5: at most one request per client at this instant.
        for k in keys { #expect(allowed(t, key: k, 10, at: now) <= 1) }
        // Once the largest evicted TAT has passed, newcomers get the full burst again.
        let later = now + 20 * second
        #expect(allowed(t, key: 5_000, 10, at: later) == 5)
    }

    @Test func withoutPressureAFullBucketOfExpiredEntriesCostsNothing() {
        let t = RateLimitTable(RateLimit(rate: 100, burst: 1), capacity: 8)
        for round in 0..<100 {
            let now = UInt64(round + 1) * second
            for k in sameBucketKeys(8) { #expect(allowed(t, key: k + UInt64(round) * 10, 1, at: now) == 1) }
        }
        #expect(t.evictions == 0)
    }

    /// The clock and the count the hammering threads share.
    final class Shared: @unchecked Sendable {
        let clock: Atomic<UInt64>
        let total = Atomic<Int>(0)
        init(_ now: UInt64) { clock = Atomic(now) }
    }

    @Test func manyThreadsOnOneKeyAreTogetherAllowedExactlyBurstPlusRateTimesElapsed() {
        let t = RateLimitTable(RateLimit(rate: 100, burst: 50))  // T = 10 ms
        let s = Shared(1_000 * second)
        let threads = 8
        @Sendable func hammer(_ n: Int) {
            for _ in 0..<n {
                if case .allowed = t.check(key: 42, now: s.clock.load(ordering: .relaxed)) {
                    s.total.wrappingAdd(1, ordering: .relaxed)
                }
            }
        }
        // The clock stands still: the burst, shared by all.
        DispatchQueue.concurrentPerform(iterations: threads) { _ in hammer(5_000) }
        #expect(s.total.load(ordering: .relaxed) == 50)
        // One thread moves the clock by 1 s in 10 ms steps while the others hammer.
        DispatchQueue.concurrentPerform(iterations: threads) { i in
            if i == 0 {
                for _ in 0..<100 {
                    s.clock.wrappingAdd(10_000_000, ordering: .relaxed)
                    usleep(200)
                }
            } else {
                hammer(20_000)
            }
        }
        #expect(s.total.load(ordering: .relaxed) <= 150)
        // A last round at the final clock: exactly burst + rate × elapsed in all.
        DispatchQueue.concurrentPerform(iterations: threads) { _ in hammer(1_000) }
        #expect(s.total.load(ordering: .relaxed) == 150)
    }

    @Test func keysHashTheWholeValueInSeparateNamespaces() {
        let long = [UInt8](repeating: 0x61, count: 100_000)
        var longer = long
        longer[99_999] = 0x62
        let a = long.withUnsafeBytes { RateLimitKey.header($0) }
        let b = longer.withUnsafeBytes { RateLimitKey.header($0) }
        #expect(a != b)
        #expect(a == long.withUnsafeBytes { RateLimitKey.header($0) })
        let ip = Array("10.0.0.1".utf8)
        #expect(ip.withUnsafeBytes { RateLimitKey.header($0) } != ip.withUnsafeBytes { RateLimitKey.address($0) })
        #expect(ip.withUnsafeBytes { RateLimitKey.address($0) } != 0)
    }
}
