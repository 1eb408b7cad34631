import Synchronization

/// The GCRA states of one route's clients, shared by every worker thread: a fixed table of
/// `capacity` entries (64-bit key hash, TAT), so memory is bounded whatever the clients do.
///
/// Lock-free: an entry is one 16-byte `Atomic<WordPair>` (128-bit compare-and-swap: x86-64
/// `cmpxchg16b`), read and replaced whole, so a key and its TAT never tear and N threads on
/// one key are together allowed exactly what one would be. A key lives in one bucket of `ways` entries
/// (two cache lines) chosen by its hash: a check reads at most `ways` entries and makes one
/// compare-exchange when it allows; a refusal writes nothing. No allocation, no lock.
///
/// Memory and forgetting (DESIGN §3 "Rate limits"): an entry whose TAT <= now is the same as
/// no entry and is reused freely. A live entry (TAT in the future: a client still paying for
/// its burst) is evicted only when its whole bucket is live; the bucket then remembers the
/// largest TAT it evicted (`pressure`), and until that moment passes every key that enters the
/// bucket starts with its burst spent, so an evicted client comes back limited, never with a
/// full burst (an innocent newcomer to a crowded bucket gets the sustained rate meanwhile).
/// A race of two first requests of one key with a neighbour expiring in between can leave a
/// duplicate entry: at most one extra request, once.
package final class RateLimitTable: @unchecked Sendable {
    /// Entries per table unless told otherwise (1 MiB of entries + 64 KiB of bucket pressure).
    package static let defaultCapacity = 65_536
    /// Entries per bucket (8 × 16 bytes: two cache lines).
    package static let ways = 8

    package let rule: RateLimit
    package let capacity: Int
    private let bucketMask: Int
    private let slots: UnsafeMutablePointer<Atomic<WordPair>>
    private let pressure: UnsafeMutablePointer<Atomic<UInt64>>
    private let evictionCount = Atomic<Int>(0)

    /// A table of `capacity` entries (rounded up to a power of two, at least one bucket).
    /// Allocates once; control thread (a snapshot being built).
    package init(_ rule: RateLimit, capacity: Int = RateLimitTable.defaultCapacity) {
        self.rule = rule
        var buckets = 1
        while buckets * Self.ways < capacity { buckets <<= 1 }
        self.capacity = buckets * Self.ways
        bucketMask = buckets - 1
        let raw = UnsafeMutableRawPointer.allocate(byteCount: self.capacity * 16, alignment: 128)
        slots = raw.bindMemory(to: Atomic<WordPair>.self, capacity: self.capacity)
        for i in 0..<self.capacity { (slots + i).initialize(to: Atomic(WordPair(first: 0, second: 0))) }
        pressure = .allocate(capacity: buckets)
        for i in 0..<buckets { (pressure + i).initialize(to: Atomic(0)) }
    }

    deinit {
        slots.deinitialize(count: capacity)
        UnsafeMutableRawPointer(slots).deallocate()
        pressure.deinitialize(count: bucketMask + 1)
        pressure.deallocate()
    }

    /// Live entries evicted so far because their bucket was full (each one raised its
    /// bucket's pressure). One relaxed load; any thread.
    package var evictions: Int { evictionCount.load(ordering: .relaxed) }

    /// The decision for one request of the client `key` (from `RateLimitKey`, never 0) at
    /// monotonic time `now` (ns), recorded when allowed. Any thread; lock-free, O(ways).
    package func check(key: UInt64, now: UInt64) -> RateLimit.Decision {
        let k = UInt(truncatingIfNeeded: key == 0 ? 1 : key)
        let b = Int(truncatingIfNeeded: key >> 17) & bucketMask
        let bucket = slots + b * Self.ways
        while true {
            var free = -1
            var freeSeen = WordPair(first: 0, second: 0)
            var victim = -1
            var victimSeen = WordPair(first: 0, second: 0)
            var raced = false
            for i in 0..<Self.ways {
                let seen = bucket[i].load(ordering: .acquiring)
                if seen.first == k {
                    let d = rule.decide(tat: UInt64(seen.second), now: now)
                    guard case .allowed(let tat) = d else { return d }
                    if replace(bucket + i, seen, k, tat) { return d }
                    raced = true  // another thread moved this client's TAT: decide again
                    break
                }
                if seen.first == 0 || UInt64(seen.second) <= now {
                    if free < 0 {
                        free = i
                        freeSeen = seen
                    }
                } else if victim < 0 || seen.second < victimSeen.second {
                    victim = i
                    victimSeen = seen
                }
            }
            if raced { continue }
            // Not in the table: a free entry, else the live one closest to expiry.
            var start: UInt64 = 0
            let slot = free >= 0 ? free : victim
            let seen = free >= 0 ? freeSeen : victimSeen
            if free < 0 {
                pressure[b].max(UInt64(victimSeen.second), ordering: .relaxed)  // before the entry goes
                start = rule.spentState(now: now)
            } else if now < pressure[b].load(ordering: .relaxed) {
                start = rule.spentState(now: now)
            }
            let d = rule.decide(tat: start, now: now)
            guard case .allowed(let tat) = d else { return d }
            if replace(bucket + slot, seen, k, tat) {
                if free < 0 { evictionCount.wrappingAdd(1, ordering: .relaxed) }
                return d
            }
        }
    }

    /// Until when new keys of `key`'s bucket start with their burst spent (0: never evicted).
    package func pressure(forKey key: UInt64) -> UInt64 {
        pressure[Int(truncatingIfNeeded: key >> 17) & bucketMask].load(ordering: .relaxed)
    }

    @inline(__always)
    private func replace(_ entry: UnsafeMutablePointer<Atomic<WordPair>>, _ seen: WordPair, _ key: UInt, _ tat: UInt64)
        -> Bool
    {
        entry.pointee.compareExchange(
            expected: seen, desired: WordPair(first: key, second: UInt(tat)), ordering: .acquiringAndReleasing
        ).exchanged
    }
}

/// A client's key for `RateLimitTable`: its header value or its address, hashed with Swift's
/// `Hasher` (SipHash-1-3 with a random per-process seed, so nobody can aim keys at one
/// bucket), in separate namespaces so a header value never collides with an address by design.
///
/// Pure; any thread. Cost grows with the value's length (a few ns per 8 bytes); the table
/// stores only the 64-bit hash, so a key of any length takes one entry.
package enum RateLimitKey {
    @inline(__always)
    package static func header(_ value: UnsafeRawBufferPointer) -> UInt64 { hash(1, value) }

    @inline(__always)
    package static func address(_ bytes: UnsafeRawBufferPointer) -> UInt64 { hash(2, bytes) }

    @inline(__always)
    static func hash(_ namespace: UInt8, _ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var h = Hasher()
        h.combine(namespace)
        h.combine(bytes: bytes)
        let v = UInt64(UInt(bitPattern: h.finalize()))
        return v == 0 ? 1 : v
    }
}
