import Synchronization

/// The process-wide response cache: entries by key in 16 shards, each a table under a
/// reader-writer lock, with one memory budget (`max_size`) for all.
///
/// Any thread. A hit takes its shard's read side for one lookup and bumps the entry's use
/// time with a relaxed store; a miss takes the write side twice, briefly: to insert its
/// fill (so concurrent misses find it and share it) and to complete or drop it. Eviction is
/// sampled LRU (the least recently used of a few entries picked at random, as Redis does),
/// so no hit ever writes a shared list. Memory: entries (head, variant, body chunks) count
/// against `maxSize`; entries that readers still hold are freed when the last lets go.
public final class CacheStore: @unchecked Sendable {
    public enum Lookup {
        /// A stored response of this variant (any freshness: the caller decides), and a fill
        /// running for the same key, if any.
        case stored(CacheEntry, fill: CacheEntry?)
        /// No stored response, but a fill for the key runs: share it.
        case filling(CacheEntry)
        /// The key answered uncacheable lately: go to the backend, do not wait.
        case hitForMiss
        case miss
    }

    static let shardCount = 16
    static let sample = 5

    public let maxSize: Int
    public let maxObject: Int
    private let shards: [Shard]
    private let bytes = Atomic<Int>(0)
    private let objects = Atomic<Int>(0)
    private let evictionCount = Atomic<Int>(0)
    private let seed: Int

    final class Shard: @unchecked Sendable {
        let lock = RWLock()
        /// Entries by key hash (several per hash: variants, fills, collisions).
        var table: [UInt64: [CacheEntry]] = [:]
        /// Every entry once (for sampling and purge), `CacheEntry.slot` its position.
        var all: [CacheEntry] = []
        var random: UInt64

        init(seed: UInt64) { random = seed | 1 }

        func insert(_ e: CacheEntry, _ index: Int) {
            table[e.hash, default: []].append(e)
            e.slot = all.count
            e.shard = index
            all.append(e)
        }

        /// Removes `e` (write lock held); false when it was not here.
        @discardableResult
        func remove(_ e: CacheEntry) -> Bool {
            guard e.slot >= 0, e.slot < all.count, all[e.slot] === e else { return false }
            let last = all.removeLast()
            if last !== e {
                all[e.slot] = last
                last.slot = e.slot
            }
            e.slot = -1
            if var list = table[e.hash] {
                list.removeAll { $0 === e }
                table[e.hash] = list.isEmpty ? nil : list
            }
            return true
        }

        func nextRandom() -> Int {
            random ^= random << 13
            random ^= random >> 7
            random ^= random << 17
            return Int(truncatingIfNeeded: random >> 1)
        }
    }

    public init(maxSize: Int, maxObject: Int) {
        self.maxSize = maxSize
        self.maxObject = maxObject
        seed = Int.random(in: 1...Int.max)
        shards = (0..<Self.shardCount).map { Shard(seed: UInt64($0) &* 0x9E37_79B9_7F4A_7C15 &+ 7) }
    }

    // MARK: keys

    /// The seeded hash of a primary key (per process, so nobody can aim requests at one shard).
    @inline(__always)
    public func hash(_ key: UnsafeRawBufferPointer) -> UInt64 {
        var h = Hasher()
        h.combine(seed)
        h.combine(bytes: key)
        return UInt64(bitPattern: Int64(h.finalize()))
    }

    @inline(__always)
    private func shard(_ hash: UInt64) -> Shard { shards[Int(hash & UInt64(Self.shardCount - 1))] }

    // MARK: lookups

    /// Finds `key`: the stored entry whose variant `variantOf` accepts (the caller computes
    /// this request's values of the entry's `varyNames` and compares), a running fill, a
    /// hit-for-miss marker, or nothing. `now`: monotonic ns. Any thread; read lock.
    @inline(__always)
    public func lookup(
        _ key: UnsafeRawBufferPointer, hash: UInt64, now: UInt64, variantOf: (CacheEntry) -> Bool
    ) -> Lookup {
        let s = shard(hash)
        return s.lock.reading {
            guard let list = s.table[hash] else { return .miss }
            var stored: CacheEntry? = nil
            var fill: CacheEntry? = nil
            var hitForMiss = false
            for e in list where e.key.withUnsafeBytes({ $0.elementsEqual(key) }) {
                switch e.state {
                case .complete:
                    if stored == nil && variantOf(e) { stored = e }
                case .filling:
                    // A fill whose head is known serves only its own variant.
                    if fill == nil && (!e.headReady || variantOf(e)) { fill = e }
                case .hitForMiss:
                    if e.hitForMissUntil > now { hitForMiss = true }
                case .abandoned, .cut, .failed:
                    break
                }
            }
            if let stored {
                stored.lastUsed.store(now / 1_000_000_000, ordering: .relaxed)
                return .stored(stored, fill: fill)
            }
            if let fill { return .filling(fill) }
            return hitForMiss ? .hitForMiss : .miss
        }
    }

    // MARK: fills

    /// Starts a fill for `key` (a miss, or the refresh of a stale entry) and makes it visible
    /// to lookups, so the next misses share it; or, when another worker started one for the
    /// key since this request's lookup (`variantOf` as in `lookup`), returns that one with
    /// `started` false: the request shares it instead. Write lock.
    public func beginFill(
        _ key: UnsafeRawBufferPointer, hash: UInt64, variantOf: (CacheEntry) -> Bool
    ) -> (entry: CacheEntry, started: Bool) {
        let s = shard(hash)
        return s.lock.writing {
            if let list = s.table[hash] {
                for e in list where e.state == .filling && e.key.withUnsafeBytes({ $0.elementsEqual(key) }) {
                    if !e.headReady || variantOf(e) { return (e, false) }
                }
            }
            let e = CacheEntry(key: Array(key), hash: hash, body: CacheBody(length: nil, maxBytes: 0))
            s.insert(e, Int(hash & UInt64(Self.shardCount - 1)))
            return (e, true)
        }
    }

    /// The fill's head says how long the body is: give it a body of that size (or one that
    /// grows in chunks up to `max_object`). Fill worker, before `setHead`.
    public func prepareBody(_ e: CacheEntry, length: Int?) -> CacheBody {
        let b = CacheBody(length: length, maxBytes: maxObject)
        e.replaceBody(b)
        return b
    }

    /// The fill stored its whole body: it serves from now on, older entries of the same
    /// variant go, and memory past `max_size` is evicted.
    public func complete(_ e: CacheEntry, now: UInt64) {
        e.lastUsed.store(now / 1_000_000_000, ordering: .relaxed)
        let s = shard(e.hash)
        let size = e.size
        s.lock.writing {
            if e.purged.load(ordering: .relaxed) {
                // Purged while it was fetched: its waiters finish, nothing is stored.
                s.remove(e)
                e.end(.complete)
                return
            }
            if let list = s.table[e.hash] {
                for old in list where old !== e && old.state == .complete && old.key == e.key && old.variant == e.variant {
                    if s.remove(old) { forget(old) }
                }
            }
            e.end(.complete)
            account(size, objects: 1)
        }
        evictIfNeeded(from: s)
    }

    /// The fill ends without a stored response (`state` abandoned or cut); with
    /// `hitForMissUntil`, a marker stays that sends the key's next requests straight to the
    /// backend until then.
    public func drop(_ e: CacheEntry, as state: CacheEntry.State, hitForMissUntil: UInt64 = 0) {
        let s = shard(e.hash)
        s.lock.writing {
            e.end(state)
            s.remove(e)
            if hitForMissUntil > 0 {
                let list = s.table[e.hash] ?? []
                let live = list.contains { $0.state == .hitForMiss && $0.key == e.key && $0.hitForMissUntil >= hitForMissUntil }
                if !live {
                    for old in list where old.state == .hitForMiss && old.key == e.key {
                        if s.remove(old) { forget(old) }
                    }
                    let marker = CacheEntry(
                        key: e.key, hash: e.hash, body: CacheBody(length: 0, maxBytes: 0), hitForMissUntil: hitForMissUntil)
                    s.insert(marker, Int(e.hash & UInt64(Self.shardCount - 1)))
                    account(marker.size, objects: 0)
                }
            }
        }
    }

    /// A 304 refreshed `old`: a new entry with the refreshed head and freshness takes its
    /// place and shares its body (RFC 9111 §4.3.4). Returns the new entry.
    public func replace(
        _ old: CacheEntry, head: [UInt8], etag: [UInt8]?, lastModified: Int64?, freshness: StoredFreshness, now: UInt64
    ) -> CacheEntry {
        let e = old.refreshed(head: head, etag: etag, lastModified: lastModified, freshness: freshness)
        e.lastUsed.store(now / 1_000_000_000, ordering: .relaxed)
        let s = shard(old.hash)
        s.lock.writing {
            if s.remove(old) { forget(old) }
            s.insert(e, Int(old.hash & UInt64(Self.shardCount - 1)))
        }
        account(e.size, objects: 1)
        return e
    }

    /// A complete entry with `old`'s body and another head that is not in the store: the
    /// answer to one client only (a revalidation's own Set-Cookie). Any thread.
    public func answerOnly(_ old: CacheEntry, head: [UInt8], freshness: StoredFreshness) -> CacheEntry {
        old.refreshed(head: head, etag: old.etag, lastModified: old.lastModified, freshness: freshness)
    }

    /// Removes a stored entry (a response that says it must not be reused any more).
    public func remove(_ e: CacheEntry) {
        let s = shard(e.hash)
        s.lock.writing {
            if s.remove(e) { forget(e) }
        }
    }

    // MARK: purge and memory

    /// Drops every stored variant of `key` (an unsafe method succeeded on it, §4.4); running
    /// fills for it are not stored. Returns how many went. Write lock of one shard.
    public func invalidate(_ key: UnsafeRawBufferPointer, hash: UInt64) -> Int {
        let s = shard(hash)
        return s.lock.writing {
            guard let list = s.table[hash] else { return 0 }
            var n = 0
            for e in list where e.key.withUnsafeBytes({ $0.elementsEqual(key) }) {
                switch e.state {
                case .filling: e.purged.store(true, ordering: .relaxed)
                case .complete, .hitForMiss:
                    if s.remove(e) {
                        if e.state == .complete { n += 1 }
                        forget(e)
                    }
                default: break
                }
            }
            return n
        }
    }

    /// Drops every stored entry whose key `matches` (the admin's `POST /cache/purge`).
    /// Returns how many went. Any thread; takes each shard's write lock in turn.
    public func purge(where matches: ([UInt8]) -> Bool) -> Int {
        var n = 0
        for s in shards {
            s.lock.writing {
                for e in s.all where e.state == .filling && matches(e.key) { e.purged.store(true, ordering: .relaxed) }
                let victims = s.all.filter { ($0.state == .complete || $0.state == .hitForMiss) && matches($0.key) }
                for e in victims where s.remove(e) {
                    if e.state == .complete { n += 1 }
                    forget(e)
                }
            }
        }
        return n
    }

    public var storedBytes: Int { bytes.load(ordering: .relaxed) }
    public var storedObjects: Int { objects.load(ordering: .relaxed) }
    public var evictions: Int { evictionCount.load(ordering: .relaxed) }

    /// Gives back the memory of an entry just removed from its shard: a stored response or a
    /// hit-for-miss marker (fills count when they complete).
    private func forget(_ e: CacheEntry) {
        switch e.state {
        case .complete: account(-e.size, objects: -1)
        case .hitForMiss: account(-e.size, objects: 0)
        default: break
        }
    }

    private func account(_ size: Int, objects n: Int) {
        bytes.wrappingAdd(size, ordering: .relaxed)
        objects.wrappingAdd(n, ordering: .relaxed)
    }

    /// While memory is past `maxSize`, evicts the least recently used of a few sampled
    /// complete entries, from `first` on and then the other shards.
    private func evictIfNeeded(from first: Shard) {
        var tries = 0
        var index = shards.firstIndex { $0 === first } ?? 0
        while bytes.load(ordering: .relaxed) > maxSize && tries < Self.shardCount * 4 {
            let s = shards[index]
            let evicted = s.lock.writing { () -> Bool in
                guard !s.all.isEmpty else { return false }
                var victim: CacheEntry? = nil
                for _ in 0..<Self.sample {
                    let e = s.all[s.nextRandom() % s.all.count]
                    let st = e.state
                    guard st == .complete || (st == .hitForMiss) else { continue }
                    if victim == nil || e.lastUsed.load(ordering: .relaxed) < victim!.lastUsed.load(ordering: .relaxed) {
                        victim = e
                    }
                }
                guard let v = victim, s.remove(v) else { return false }
                if v.state == .complete { evictionCount.wrappingAdd(1, ordering: .relaxed) }
                forget(v)
                return true
            }
            if !evicted {
                index = (index + 1) % Self.shardCount
                tries += 1
            }
        }
    }
}
