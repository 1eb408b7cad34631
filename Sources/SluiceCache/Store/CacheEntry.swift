import Synchronization

/// One stored (or being stored) response for one key and variant.
///
/// Created by the worker that fetches it (the fill); read by any worker. What never changes
/// after publication is written before a releasing store and read after an acquiring load:
/// the head (`setHead`, then `headReady`), the body bytes (`CacheBody.available`), the end
/// (`state`). A 304 that refreshes a stored response makes a new entry that shares the body.
public final class CacheEntry: @unchecked Sendable {
    public enum State: UInt8 {
        /// The fill is running: the head may not have arrived, the body grows.
        case filling = 0
        /// Whole and stored: servable by its freshness.
        case complete = 1
        /// The fill gave up before any body byte was shared (uncacheable, too large, failed):
        /// its waiters go to the backend themselves.
        case abandoned = 2
        /// The fill broke after sharing body bytes (the backend died mid-body): waiters are cut.
        case cut = 3
        /// A "hit for miss" marker: the key answered uncacheable lately; requests bypass.
        case hitForMiss = 4
        /// The fill failed before its head was shared: no answer from the backend (refused,
        /// timed out) or a 5xx that is not stored. Its waiters get a stale copy or an error at
        /// once, rather than each asking the failing backend again.
        case failed = 5
    }

    /// The primary key (cluster, host, path and query) and its seeded hash.
    public let key: [UInt8]
    public let hash: UInt64
    /// The shard's position of this entry (shard lock).
    var slot = -1
    var shard = -1

    private let stateValue = Atomic<UInt8>(State.filling.rawValue)
    private let headPublished = Atomic<Bool>(false)
    /// Seconds (monotonic) of the last use, for the sampled LRU eviction.
    let lastUsed = Atomic<UInt64>(0)
    /// A background refresh (stale-while-revalidate) or revalidation of this entry runs.
    public let refreshing = Atomic<Bool>(false)
    /// No background refresh before this (monotonic ns): one second after a refresh ended, so
    /// a backend that is down gets one refresh per entry per second, not one per hit.
    public let refreshAfter = Atomic<UInt64>(0)
    /// Workers (bit = worker % 64) that have waiters on this fill, and the ones a progress
    /// notice is already posted to (cleared by the worker when it runs it).
    public let waitingWorkers = Atomic<UInt64>(0)
    public let noticePending = Atomic<UInt64>(0)
    /// A purge matched this fill while it ran: it completes for its waiters, is not stored.
    let purged = Atomic<Bool>(false)
    /// Until when (monotonic ns) a `hitForMiss` marker holds.
    public let hitForMissUntil: UInt64

    // Written once by the fill before `headReady` is published.
    public private(set) var status = 0
    /// The stored head: status line and end-to-end fields, each ending in CRLF, without
    /// framing, `Age` or hop-by-hop fields; the writer of an answer adds those.
    public private(set) var head: [UInt8] = []
    /// The request header names the response varies on, and this variant's values of them.
    public private(set) var varyNames: [[UInt8]] = []
    public private(set) var variant: [UInt8] = []
    public private(set) var etag: [UInt8]? = nil
    public private(set) var lastModified: Int64? = nil
    public private(set) var freshness = StoredFreshness(
        lifetime: 0, initialAge: 0, storedAt: 0, mustRevalidate: true, noCache: false, staleWhileRevalidate: 0,
        staleIfError: 0, staleIfOverloaded: 0)
    /// Set when the head is known: nil for a body whose length only its end tells.
    public private(set) var contentLength: Int? = nil
    public private(set) var body: CacheBody

    init(key: [UInt8], hash: UInt64, body: CacheBody, hitForMissUntil: UInt64 = 0) {
        self.key = key
        self.hash = hash
        self.body = body
        self.hitForMissUntil = hitForMissUntil
        if hitForMissUntil > 0 { stateValue.store(State.hitForMiss.rawValue, ordering: .relaxed) }
    }

    @inline(__always) public var state: State { State(rawValue: stateValue.load(ordering: .acquiring))! }
    @inline(__always) public var headReady: Bool { headPublished.load(ordering: .acquiring) }

    /// The fill's body storage, sized once its head tells the length (fill worker, before `setHead`).
    public func replaceBody(_ b: CacheBody) { body = b }

    /// The fill's head arrived and may be shared (fill worker, once).
    public func setHead(
        status: Int, head: [UInt8], varyNames: [[UInt8]], variant: [UInt8], etag: [UInt8]?, lastModified: Int64?,
        freshness: StoredFreshness, contentLength: Int?
    ) {
        self.status = status
        self.head = head
        self.varyNames = varyNames
        self.variant = variant
        self.etag = etag
        self.lastModified = lastModified
        self.freshness = freshness
        self.contentLength = contentLength
        headPublished.store(true, ordering: .sequentiallyConsistent)
    }

    /// A copy with a refreshed head and freshness (a 304's update, RFC 9111 §4.3.4) that
    /// shares this entry's complete body.
    func refreshed(head: [UInt8], etag: [UInt8]?, lastModified: Int64?, freshness: StoredFreshness) -> CacheEntry {
        let e = CacheEntry(key: key, hash: hash, body: body)
        e.setHead(
            status: status, head: head, varyNames: varyNames, variant: variant, etag: etag, lastModified: lastModified,
            freshness: freshness, contentLength: contentLength ?? body.available)
        e.stateValue.store(State.complete.rawValue, ordering: .sequentiallyConsistent)
        return e
    }

    /// Moves the fill to its end (fill worker); sequentially consistent, paired with the
    /// waiters' registration in `waitingWorkers` (a waiter either sees the end or is told).
    func end(_ s: State) { stateValue.store(s.rawValue, ordering: .sequentiallyConsistent) }

    /// The body's length once known: Content-Length, or what arrived when the fill completed.
    public var length: Int? {
        if let contentLength { return contentLength }
        return state == .complete ? body.available : nil
    }

    /// Memory this entry holds, for `max_size`.
    var size: Int { 256 + key.count + head.count + variant.count + body.allocatedBytes }

    /// Whether `values` (this request's values of `varyNames`, `VaryKey`) select this variant.
    @inline(__always)
    public func matches(variant values: UnsafeRawBufferPointer) -> Bool {
        variant.withUnsafeBytes { $0.elementsEqual(values) }
    }
}
