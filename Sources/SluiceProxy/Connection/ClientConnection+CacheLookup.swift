import SluiceBuffers
import SluiceCache
import SluiceHTTP
import SluiceSystem

/// What the cache did for one request (`cache_requests_total{result}`, the access log's
/// `cache` field). Raw values index the per-cluster counters.
enum CacheResult: Int, CaseIterable {
    case hit = 0, miss, stale, revalidated, coalesced, bypass

    /// The access log's `cache` value (no allocation).
    var logName: StaticString {
        switch self {
        case .hit: return "hit"
        case .miss: return "miss"
        case .stale: return "stale"
        case .revalidated: return "revalidated"
        case .coalesced: return "coalesced"
        case .bypass: return "bypass"
        }
    }

    var label: String { logName.description }
}

/// What the lookup decided, before the request head is consumed (`prepareCache`), run after
/// the route's checks (`answerFromCache`).
enum CachePlan {
    case none
    /// Answer from this complete entry.
    case serve(CacheEntry, status: StaticString, result: CacheResult)
    /// The client's conditional request matches the stored response: 304.
    case notModified(CacheEntry)
    /// A Range request of a complete stored body: 206 of bytes `first...last`, or 416.
    case range(CacheEntry, first: Int, last: Int)
    case unsatisfiable(CacheEntry)
    /// Wait for this fill's head, then stream its body as it arrives.
    case coalesce(CacheEntry)
    /// Go to the backend and store what comes back into this fill.
    case fill(CacheEntry, stale: Bool)
    /// Go to the backend, store nothing.
    case bypass(status: StaticString)
}

/// The response cache on the request path (DESIGN §3 "Cache", docs/caching.md): a hit is an
/// exchange that needs no backend; a coalesced waiter is an exchange fed by another's fill;
/// a fill is a normal exchange whose response body is also kept. Loop thread.
extension ClientConnection {
    /// Keys longer than this are not cached (counted as bypass).
    static let maxCacheKey = 4096
    /// How long a key found uncacheable goes straight to the backend (hit for miss).
    static let hitForMissNanos: UInt64 = 10_000_000_000
    /// After a failed background refresh, the next one waits this long.
    static let refreshBackoffNanos: UInt64 = 1_000_000_000

    /// Looks the request up while its head is still in the buffer (`p`): GET and HEAD of a
    /// route with `cache`. Sets `cachePlan`.
    func prepareCache(_ p: UnsafeRawPointer, _ rc: RouteCache, _ store: CacheStore, host: Range<Int>) {
        cacheRoute = rc
        cacheStore = store
        cacheStale = nil
        cacheRequest = RequestFacts.read(p, head.fields)
        cacheRequestWall = Clock.wallNanos()
        guard buildCacheKey(p, host: host) else {
            cachePlan = .bypass(status: "sluice; fwd=bypass; detail=key-too-long")
            return
        }
        let now = worker.loop.now
        let found = cacheKey.withUnsafeBytes { key -> CacheStore.Lookup in
            cacheHash = store.hash(key)
            return store.lookup(key, hash: cacheHash, now: now) { e in
                VaryKey.values(of: e.varyNames, p, head.fields, into: &varyScratch)
                return varyScratch.withUnsafeBytes { e.matches(variant: $0) }
            }
        }
        let get = head.method == .get
        if refreshing != nil {
            // A background refresh: revalidate, whatever the entry's freshness.
            switch found {
            case .stored(let e, let fill):
                cacheStale = e
                cachePlan = fill.map { .coalesce($0) } ?? fillPlan(p, store, rc, stale: true)
            case .filling(let fill): cachePlan = .coalesce(fill)
            case .hitForMiss, .miss: cachePlan = fillPlan(p, store, rc, stale: false)
            }
            return
        }
        switch found {
        case .stored(let e, let fill):
            switch CacheRules.serve(e.freshness, request: cacheRequest, now: now) {
            case .fresh:
                if notModified(p, e) {
                    cachePlan = .notModified(e)
                } else if cacheRequest.hasRange && e.status == 200, let length = e.length {
                    cachePlan = rangePlan(p, e, length)
                } else {
                    cachePlan = .serve(e, status: "sluice; hit", result: .hit)
                }
            case .staleWhileRevalidate:
                // Answer from the stale entry now; one background refresh per entry.
                if get && fill == nil && now >= e.refreshAfter.load(ordering: .relaxed)
                    && !e.refreshing.exchange(true, ordering: .acquiringAndReleasing)
                {
                    cacheRefreshOf = e
                }
                cachePlan = .serve(e, status: "sluice; hit; detail=stale-while-revalidate", result: .stale)
            case .revalidate:
                cacheStale = e
                if now < e.refreshAfter.load(ordering: .relaxed),
                    CacheRules.mayServeOnError(e.freshness, request: cacheRequest, now: now)
                {
                    // Its backend failed it within the last second: answer stale without
                    // asking again (one attempt per entry per second while it is down).
                    cachePlan = .serve(e, status: "sluice; hit; detail=stale-if-error", result: .stale)
                } else if let fill, rc.coalesce {
                    cachePlan = .coalesce(fill)
                } else if get, cacheRequest.cc.noStore == false, !cacheRequest.hasRange {
                    cachePlan = fillPlan(p, store, rc, stale: true)
                } else {
                    cachePlan = .bypass(status: "sluice; fwd=stale")
                }
            }
        case .filling(let fill):
            cachePlan = rc.coalesce && !cacheRequest.hasRange ? .coalesce(fill) : .bypass(status: "sluice; fwd=miss")
        case .hitForMiss:
            cachePlan = .bypass(status: "sluice; fwd=uri-miss; detail=hit-for-miss")
        case .miss:
            if !get {
                cachePlan = .bypass(status: "sluice; fwd=method")
            } else if cacheRequest.cc.noStore {
                cachePlan = .bypass(status: "sluice; fwd=request")
            } else if cacheRequest.hasRange {
                cachePlan = .bypass(status: "sluice; fwd=miss; detail=range")
            } else {
                cachePlan = fillPlan(p, store, rc, stale: false)
            }
        }
    }

    /// Builds the primary key into `cacheKey`: host (lowercase, no port), a space, the
    /// target's path and query (`CacheKey`). False when it would pass `maxCacheKey`.
    private func buildCacheKey(_ p: UnsafeRawPointer, host: Range<Int>) -> Bool {
        cacheKey.removeAll(keepingCapacity: true)
        for i in host { cacheKey.append(lower(p.load(fromByteOffset: i, as: UInt8.self))) }
        cacheKey.append(0x20)
        let from = head.isAbsoluteForm ? head.pathStart : head.targetStart
        if head.targetEnd - from + cacheKey.count > Self.maxCacheKey { return false }
        for i in from..<head.targetEnd { cacheKey.append(p.load(fromByteOffset: i, as: UInt8.self)) }
        return true
    }

    /// An unsafe request (POST, PUT, DELETE…) to a cached route: its URI's stored responses
    /// go if it succeeds (RFC 9111 §4.4; `invalidateIfDone`).
    func prepareInvalidation(_ p: UnsafeRawPointer, _ store: CacheStore, host: Range<Int>) {
        guard buildCacheKey(p, host: host) else { return }
        cacheStore = store
        cacheInvalidates = true
    }

    /// The unsafe request's response head arrived: a 2xx or 3xx drops every stored variant of
    /// its URI (the next GET fetches again).
    func invalidateIfDone() {
        cacheInvalidates = false
        guard let store = cacheStore, CacheRules.invalidates(method: exchange.method, status: response.status) else { return }
        cacheStore = nil
        _ = cacheKey.withUnsafeBytes { key in store.invalidate(key, hash: store.hash(key)) }
    }

    /// A fill for this request's key, or the one another worker just started (then shared
    /// when the route coalesces, else bypassed).
    private func fillPlan(_ p: UnsafeRawPointer, _ store: CacheStore, _ rc: RouteCache, stale: Bool) -> CachePlan {
        let (e, started) = cacheKey.withUnsafeBytes { key in
            store.beginFill(key, hash: cacheHash) { e in
                VaryKey.values(of: e.varyNames, p, head.fields, into: &varyScratch)
                return varyScratch.withUnsafeBytes { e.matches(variant: $0) }
            }
        }
        if started { return .fill(e, stale: stale) }
        return rc.coalesce ? .coalesce(e) : .bypass(status: "sluice; fwd=miss")
    }

    /// A Range request against the whole stored body (RFC 9110 §14): 206, 416, or the whole 200.
    private func rangePlan(_ p: UnsafeRawPointer, _ e: CacheEntry, _ length: Int) -> CachePlan {
        let r =
            e.etag.map { tag in
                tag.withUnsafeBytes {
                    ByteRange.parse(request: p, head.fields, length: length, storedETag: $0, storedLastModified: e.lastModified)
                }
            }
            ?? ByteRange.parse(request: p, head.fields, length: length, storedETag: nil, storedLastModified: e.lastModified)
        switch r {
        case .single(let first, let last): return .range(e, first: first, last: last)
        case .unsatisfiable: return .unsatisfiable(e)
        case .none, .multiple: return .serve(e, status: "sluice; hit", result: .hit)
        }
    }

    private func notModified(_ p: UnsafeRawPointer, _ e: CacheEntry) -> Bool {
        guard cacheRequest.hasConditional, e.status == 200 else { return false }
        if let tag = e.etag {
            return tag.withUnsafeBytes {
                Conditional.notModified(request: p, head.fields, storedETag: $0, storedLastModified: e.lastModified)
            }
        }
        return Conditional.notModified(request: p, head.fields, storedETag: nil, storedLastModified: e.lastModified)
    }

    @inline(__always) private func lower(_ c: UInt8) -> UInt8 { c >= 65 && c <= 90 ? c | 0x20 : c }

    /// After routing: answers from the cache or joins a fill (true), or lets the request go to
    /// a backend (false), as a fill or a bypass.
    func answerFromCache() -> Bool {
        let plan = cachePlan
        cachePlan = .none
        switch plan {
        case .none:
            return false
        case .serve(let e, let status, let result):
            count(result)
            if let stale = cacheRefreshOf {
                cacheRefreshOf = nil
                let head = Array(forwardedHead.readable)  // the buffer serves the next request meanwhile
                nonisolated(unsafe) let l = listener
                nonisolated(unsafe) let w = worker
                w.loop.execute {
                    if !w.startRefresh(of: stale, head: head, listener: l) { stale.refreshing.store(false, ordering: .releasing) }
                }
            }
            startCachedAnswer(e, status: status)
            return true
        case .notModified(let e):
            count(.hit)
            startNotModified(e)
            return true
        case .range(let e, let first, let last):
            count(.hit)
            startRangeAnswer(e, first: first, last: last)
            return true
        case .unsatisfiable(let e):
            count(.hit)
            let now = worker.loop.now
            _ = exchange.cacheAnswer(status: 416, length: 0, draining: worker.draining, now: now)
            let o = ensureOut()
            o.append("HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */")
            o.append(decimal: e.length ?? 0)
            o.append("\r\nContent-Length: 0\r\nAge: ")
            o.append(decimal: CacheRules.currentAge(e.freshness, now: now))
            o.append("\r\nCache-Status: sluice; hit\r\n")
            appendConnectionField(o)
            finishCachedAnswer()
            return true
        case .coalesce(let e):
            count(.coalesced)
            cacheReader = e
            exchange.coalesce(now: worker.loop.now)
            worker.addCacheWaiter(self, e)
            return true
        case .fill(let e, let stale):
            cacheFill = e
            cacheFillStale = stale
            if stale, let old = cacheStale { addValidators(of: old) }
            return false
        case .bypass(let status):
            count(.bypass)
            cacheBypassStatus = status
            return false
        }
    }

    func count(_ r: CacheResult) {
        cacheResult = r
        worker.countCache(cluster, r)
    }
}
