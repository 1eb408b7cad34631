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
            if !exchange.keepAlive {
                o.append("Connection: close\r\n")
            } else if !exchange.clientIsHTTP11 {
                o.append("Connection: keep-alive\r\n")
            }
            o.append("\r\n")
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

    // MARK: answers from the cache

    /// Answers from complete entry `e`: its head now, its body from the pumps.
    func startCachedAnswer(_ e: CacheEntry, status: StaticString) {
        let now = worker.loop.now
        let mode = exchange.cacheAnswer(status: e.status, length: e.length, draining: worker.draining, now: now)
        StoredHead.writeAnswer(
            e.head, into: ensureOut(), age: CacheRules.currentAge(e.freshness, now: now), length: e.length, chunked: false,
            cacheStatus: status, keepAlive: exchange.keepAlive, clientIsHTTP11: exchange.clientIsHTTP11)
        cacheReader = e
        cacheOffset = 0
        cacheEnd = Int.max
        if mode == .none { finishCachedAnswer() }
    }

    /// 206 Partial Content of bytes `first...last` of complete entry `e` (RFC 9110 §15.3.7).
    func startRangeAnswer(_ e: CacheEntry, first: Int, last: Int) {
        let now = worker.loop.now
        let length = e.length ?? 0
        let mode = exchange.cacheAnswer(status: 206, length: last - first + 1, draining: worker.draining, now: now)
        let o = ensureOut()
        o.append("HTTP/1.1 206 Partial Content\r\n")
        e.head.withUnsafeBytes { h in
            // The stored fields, after the stored status line.
            var i = 0
            while i + 1 < h.count && !(h[i] == 13 && h[i + 1] == 10) { i += 1 }
            o.append(UnsafeRawBufferPointer(rebasing: h[min(i + 2, h.count)...]))
        }
        o.append("Content-Range: bytes ")
        o.append(decimal: first)
        o.append("-")
        o.append(decimal: last)
        o.append("/")
        o.append(decimal: length)
        o.append("\r\n")
        StoredHead.writeAnswerTail(
            into: o, age: CacheRules.currentAge(e.freshness, now: now), length: last - first + 1, chunked: false,
            cacheStatus: "sluice; hit", keepAlive: exchange.keepAlive, clientIsHTTP11: exchange.clientIsHTTP11)
        cacheReader = e
        cacheOffset = first
        cacheEnd = last + 1
        if mode == .none { finishCachedAnswer() }
    }

    /// 304 Not Modified from a stored response (RFC 9110 §15.4.5: the stored validators and
    /// caching fields, no body).
    func startNotModified(_ e: CacheEntry) {
        let now = worker.loop.now
        _ = exchange.cacheAnswer(status: 304, length: 0, draining: worker.draining, now: now)
        let o = ensureOut()
        o.append("HTTP/1.1 304 Not Modified\r\n")
        e.head.withUnsafeBytes { h in
            // The stored fields after the status line, minus the representation's own.
            var i = 0
            while i + 1 < h.count && !(h[i] == 13 && h[i + 1] == 10) { i += 1 }
            i += 2
            while i < h.count {
                var j = i
                while j + 1 < h.count && !(h[j] == 13 && h[j + 1] == 10) { j += 1 }
                let line = UnsafeRawBufferPointer(rebasing: h[i..<j])
                if !Self.startsWith(line, "content-type:") && !Self.startsWith(line, "content-encoding:") {
                    o.append(line)
                    o.append("\r\n")
                }
                i = j + 2
            }
        }
        o.append("Age: ")
        o.append(decimal: CacheRules.currentAge(e.freshness, now: now))
        o.append("\r\nCache-Status: sluice; hit\r\n")
        if !exchange.keepAlive {
            o.append("Connection: close\r\n")
        } else if !exchange.clientIsHTTP11 {
            o.append("Connection: keep-alive\r\n")
        }
        o.append("\r\n")
        finishCachedAnswer()
    }

    static func startsWith(_ line: UnsafeRawBufferPointer, _ prefix: StaticString) -> Bool {
        guard line.count >= prefix.utf8CodeUnitCount else { return false }
        let q = prefix.utf8Start
        for k in 0..<prefix.utf8CodeUnitCount where (line[k] | 0x20) != q[k] && line[k] != q[k] { return false }
        return true
    }

    /// Exchange phase while the cache answers: wait for a fill's head, then copy the body from
    /// the entry as far as it has arrived, within the high-water mark.
    func pumpCache(_ e: CacheEntry) -> Bool {
        if exchange.state == .coalescing {
            switch e.state {
            case .failed:
                worker.removeCacheWaiter(self, e)
                cacheReader = nil
                if serveStale(onError: true) { return true }
                // The backend failed the request this one shared: the same failure, now.
                run(exchange.fail(ErrorAnswer(502, "the backend failed the shared request")))
                return true
            case .abandoned, .hitForMiss, .cut:
                worker.removeCacheWaiter(self, e)
                cacheReader = nil
                if serveStale(onError: true) { return true }
                // Nothing of the fill reached this client yet: it asks a backend itself.
                cacheBypassStatus = "sluice; fwd=miss"
                run(exchange.coalescingEnded())
                return true
            case .filling, .complete:
                guard e.headReady else { return false }
                if !e.varyNames.isEmpty && !sameVariant(e) {
                    // The fill turned out to be another variant: this request fetches its own.
                    worker.removeCacheWaiter(self, e)
                    cacheReader = nil
                    cacheBypassStatus = "sluice; fwd=miss"
                    run(exchange.coalescingEnded())
                    return true
                }
                let now = worker.loop.now
                let length = e.length
                let mode = exchange.cacheAnswer(status: e.status, length: length, draining: worker.draining, now: now)
                StoredHead.writeAnswer(
                    e.head, into: ensureOut(), age: CacheRules.currentAge(e.freshness, now: now), length: length,
                    chunked: mode == .chunked, cacheStatus: "sluice; fwd=miss; collapsed", keepAlive: exchange.keepAlive,
                    clientIsHTTP11: exchange.clientIsHTTP11)
                cacheOffset = 0
                cacheEnd = Int.max
                if mode == .none {
                    finishCachedAnswer()
                    return true
                }
            }
        }
        guard exchange.state == .streaming else { return false }
        var progress = false
        while pendingOut < Self.highWater {
            let st = e.state
            let available = min(e.body.available, cacheEnd)
            if cacheOffset < available {
                let o = ensureOut()
                let n = min(available - cacheOffset, Self.highWater - o.readableCount)
                let chunked = exchange.bodyMode == .chunked
                if chunked {
                    o.append(hex: n)
                    o.append("\r\n")
                }
                e.body.read(from: cacheOffset, count: n) { o.append($0) }
                if chunked { o.append("\r\n") }
                cacheOffset += n
                bytesSent += n
                exchange.progress(now: worker.loop.now)
                progress = true
                continue
            }
            switch cacheOffset >= cacheEnd ? .complete : st {
            case .complete:
                if exchange.bodyMode == .chunked { ChunkedEncoder.appendEnd(to: ensureOut()) }
                finishCachedAnswer()
                return true
            case .cut, .abandoned, .hitForMiss, .failed:
                worker.removeCacheWaiter(self, e)
                cacheReader = nil
                cut()
                return true
            case .filling:
                return progress
            }
        }
        return progress
    }

    /// Does this request select the variant fill `e` is fetching? (Its own head is gone by
    /// now; the forwarded copy has the same end-to-end fields.)
    private func sameVariant(_ e: CacheEntry) -> Bool {
        var h = RequestHead()
        guard
            case .complete = h.parse(
                forwardedHead.readable, limits: RequestLimits(maxHead: 1 << 20, maxRequestLine: 1 << 20, maxFields: 10_000))
        else { return false }
        VaryKey.values(of: e.varyNames, UnsafeRawPointer(forwardedHead.readPointer), h.fields, into: &varyScratch)
        return varyScratch.withUnsafeBytes { e.matches(variant: $0) }
    }

    private func finishCachedAnswer() {
        if let e = cacheReader { worker.removeCacheWaiter(self, e) }
        cacheReader = nil
        run(exchange.responseEnded())
    }

    /// Serves the stale entry kept by the lookup in place of a failure (`onError`: 5xx,
    /// refused, all down; else: admission shed it) when its window allows. True when it did.
    func serveStale(onError: Bool) -> Bool {
        // Callers: nothing of an answer was written yet. A background refresh has no client to
        // answer: its failure just ends it.
        guard let st = cacheStale, refreshing == nil else { return false }
        let now = worker.loop.now
        let ok =
            onError
            ? CacheRules.mayServeOnError(st.freshness, request: cacheRequest, now: now)
            : CacheRules.mayServeWhenOverloaded(st.freshness, request: cacheRequest, now: now)
        guard ok else { return false }
        cacheStale = nil
        dropFill(failed: onError)
        closeUpstream()
        if onError { st.refreshAfter.store(worker.loop.now &+ Self.refreshBackoffNanos, ordering: .relaxed) }
        count(.stale)
        startCachedAnswer(st, status: onError ? "sluice; hit; detail=stale-if-error" : "sluice; hit; detail=stale-if-overloaded")
        return true
    }

    // MARK: fills

    /// The request's and the response's wall-clock times in whole seconds for RFC 9111's age
    /// (§4.2.3), such that their difference is the round trip rounded down (truncating each
    /// on its own would make a 0.5 s round trip count as 1 s, and a max-age=1 answer stale).
    func wallSeconds() -> (request: Int64, response: Int64) {
        let now = Clock.wallNanos()
        let response = Int64(now / 1_000_000_000)
        let trip = now > cacheRequestWall ? Int64((now - cacheRequestWall) / 1_000_000_000) : 0
        return (response - trip, response)
    }

    /// Makes the forwarded request conditional on the stale entry's validators (RFC 9111
    /// §4.3.1): its ETag in If-None-Match, its Last-Modified in If-Modified-Since.
    func addValidators(of e: CacheEntry) {
        guard e.etag != nil || e.lastModified != nil else { return }
        let h = forwardedHead
        h.writeIndex -= 2  // before the final CRLF
        if let tag = e.etag {
            h.append("If-None-Match: ")
            tag.withUnsafeBytes { h.append($0) }
            h.append("\r\n")
        }
        if let lm = e.lastModified {
            varyScratch.removeAll(keepingCapacity: true)
            HTTPDate.format(lm, into: &varyScratch)
            h.append("If-Modified-Since: ")
            varyScratch.withUnsafeBytes { h.append($0) }
            h.append("\r\n")
        }
        h.append("\r\n")
    }

    /// The backend answered the revalidation of the stale entry with 304 (its head is at the
    /// front of `up`'s input, `length` bytes): the stored response, with the 304's fields
    /// (§4.3.4), becomes the fill's result and answers the client; the backend connection
    /// goes back to its pool. False when this is not such a 304.
    func answerRevalidated(_ up: UpstreamConnection, _ p: UnsafeRawPointer, _ length: Int) -> Bool {
        guard cacheFillStale, let old = cacheStale, let fill = cacheFill, let rc = cacheRoute, let store = cacheStore,
            old.state == .complete
        else { return false }
        // The stored head takes the 304's fields except Set-Cookie: a cookie is this client's
        // alone (its own answer below carries it; the stored response never does).
        let stored = StoredHead.merge(old.head, with: response, p, keepSetCookie: false)
        let own = StoredHead.merge(old.head, with: response, p, keepSetCookie: true)
        var mergedHead = stored
        mergedHead.append(contentsOf: [13, 10])
        var parsed = ResponseHead()
        let facts: ResponseFacts = mergedHead.withUnsafeBytes { raw in
            guard case .complete = parsed.parse(raw, maxHead: raw.count + 1) else { return ResponseFacts(status: old.status) }
            return ResponseFacts.read(raw.baseAddress!, parsed.fields, status: old.status)
        }
        let now = worker.loop.now
        let (requestWall, wall) = wallSeconds()
        var etag = old.etag
        if let t = facts.etag { etag = mergedHead.withUnsafeBytes { Array($0[t.start..<t.end]) } }
        let freshness = CacheRules.storedFreshness(
            facts, policy: rc.policy, requestTimeWall: requestWall, responseTimeWall: wall, storedAt: now)
        count(.revalidated)
        // The 304 may also have made the response unstorable (now `private`, `no-store`): then
        // the stored copy goes and nobody else gets it; this client still gets its answer.
        let storable = CacheRules.storability(method: .get, request: cacheRequest, response: facts, policy: rc.policy) == nil
        if storable {
            fill.replaceBody(old.body)
            fill.setHead(
                status: old.status, head: stored, varyNames: old.varyNames, variant: old.variant, etag: etag,
                lastModified: facts.lastModified ?? old.lastModified, freshness: freshness, contentLength: old.length)
            cacheFill = nil
            cacheStoring = false
            store.complete(fill, now: now)
            worker.announce(fill)
        } else {
            store.remove(old)
            dropFill(hitForMissUntil: now &+ Self.hitForMissNanos)
        }
        // The 304 has no body: the backend connection is clean.
        up.channel.inBuf?.consume(length)
        upstream = nil
        up.session = nil
        if !response.close && !up.hasInput && !up.eof && !up.failed && up.pendingOut == 0 {
            worker.releaseUpstream(up)
        } else {
            up.close()
        }
        releaseBackendSlot()
        cacheStale = nil
        startCachedAnswer(
            store.answerOnly(old, head: own, freshness: freshness), status: "sluice; fwd=stale; fwd-status=304")
        return true
    }

    /// The fill's final response head arrived (`p`, `response`): store it or give up; returns
    /// the `Cache-Status` to add to the client's head.
    func fillHead(_ p: UnsafeRawPointer) -> StaticString {
        guard let fill = cacheFill, let rc = cacheRoute, let store = cacheStore else {
            return cacheBypassStatus
        }
        let facts = ResponseFacts.read(p, response.fields, status: response.status)
        var reason = CacheRules.storability(method: exchange.method, request: cacheRequest, response: facts, policy: rc.policy)
        let length = response.framing(requestMethod: exchange.method).knownLength
        if reason == nil, let length, length > store.maxObject { reason = .noFreshness }
        // A 5xx never replaces a stored response, whatever freshness it states.
        if reason == nil, cacheFillStale, response.status >= 500 { reason = .status }
        guard reason == nil else {
            // What the response itself makes uncacheable is remembered (hit for miss); an error,
            // a partial or not-modified answer to this request's own headers, is not.
            let uncacheable: Bool
            switch reason! {
            case .noStore, .privateResponse, .setCookie, .varyStar, .varyTooMany, .noFreshness: uncacheable = true
            case .status: uncacheable = response.status < 500 && response.status != 304
            case .method, .requestNoStore, .authorization, .partialContent: uncacheable = false
            }
            dropFill(
                hitForMissUntil: uncacheable ? worker.loop.now &+ Self.hitForMissNanos : 0, failed: response.status >= 500)
            count(cacheFillStale ? .revalidated : .miss)
            return cacheFillStale ? "sluice; fwd=stale" : "sluice; fwd=miss"
        }
        let now = worker.loop.now
        let (requestWall, wall) = wallSeconds()
        var variant: [UInt8] = []
        if !facts.vary.names.isEmpty {
            var h = RequestHead()
            if case .complete = h.parse(
                forwardedHead.readable, limits: RequestLimits(maxHead: 1 << 20, maxRequestLine: 1 << 20, maxFields: 10_000))
            {
                VaryKey.values(of: facts.vary.names, UnsafeRawPointer(forwardedHead.readPointer), h.fields, into: &variant)
            }
        }
        if variant.count > Self.maxCacheKey {
            // This request's values of the Vary headers would make an oversized key.
            dropFill()
            count(.bypass)
            return "sluice; fwd=bypass; detail=vary-too-long"
        }
        var etag: [UInt8]? = nil
        if let t = facts.etag { etag = Array(UnsafeRawBufferPointer(start: p + t.start, count: t.end - t.start)) }
        _ = store.prepareBody(fill, length: length)
        fill.setHead(
            status: response.status, head: StoredHead.make(response, p), varyNames: facts.vary.names, variant: variant,
            etag: etag, lastModified: facts.lastModified,
            freshness: CacheRules.storedFreshness(
                facts, policy: rc.policy, requestTimeWall: requestWall, responseTimeWall: wall, storedAt: now),
            contentLength: length)
        cacheStoring = true
        count(cacheFillStale ? .revalidated : .miss)
        worker.announce(fill)
        return cacheFillStale ? "sluice; fwd=stale; stored" : "sluice; fwd=miss; stored"
    }

    /// Keeps body bytes the fill forwarded (after de-chunking); a body past `max_object`
    /// stops the fill (its waiters are cut, the key bypasses for a while).
    @inline(__always)
    func keepFillBytes(_ piece: UnsafeRawBufferPointer) {
        guard cacheStoring, let fill = cacheFill else { return }
        if fill.body.append(piece) {
            worker.announce(fill)
        } else {
            dropFill(hitForMissUntil: worker.loop.now &+ Self.hitForMissNanos)
        }
    }

    /// The fill ends without a stored response: its waiters learn it (abandoned before any
    /// body was shared, cut after).
    /// `failed`: no usable answer came (the backend refused, timed out, answered 5xx): waiters
    /// get a stale copy or the error instead of asking again.
    func dropFill(hitForMissUntil: UInt64 = 0, failed: Bool = false) {
        guard let fill = cacheFill, let store = cacheStore else { return }
        cacheFill = nil
        let shared = cacheStoring
        cacheStoring = false
        store.drop(fill, as: shared ? .cut : failed ? .failed : .abandoned, hitForMissUntil: hitForMissUntil)
        worker.announce(fill)
    }

    /// The exchange ends (`completed`: its response went out whole): a fill that kept the
    /// whole body is stored, any other is dropped; a waiter leaves its fill.
    func settleCache(completed: Bool, failed: Bool = false) {
        if let fill = cacheFill, let store = cacheStore {
            if completed && cacheStoring {
                cacheFill = nil
                cacheStoring = false
                store.complete(fill, now: worker.loop.now)
                worker.announce(fill)
            } else {
                dropFill(failed: failed)
            }
        }
        if let e = cacheReader {
            worker.removeCacheWaiter(self, e)
            cacheReader = nil
        }
        if let e = refreshing {
            // The refresh is over. Had it failed, the entry may be refreshed again in a second
            // (not by every hit meanwhile); had it worked, a new entry replaced this one.
            e.refreshAfter.store(worker.loop.now &+ Self.refreshBackoffNanos, ordering: .relaxed)
            e.refreshing.store(false, ordering: .releasing)
        }
        cacheRoute = nil
        cacheStore = nil
        cacheStale = nil
        cacheInvalidates = false
        cachePlan = .none
    }

    /// Adds `Cache-Status` to a response head just written to the client (a cached route).
    func appendCacheStatus(_ status: StaticString) {
        let o = ensureOut()
        o.writeIndex -= 2  // before the head's final CRLF
        o.append("Cache-Status: ")
        o.append(status)
        o.append("\r\n\r\n")
    }
}

extension BodyFraming {
    /// The body length when the framing states it (0 for no body).
    var knownLength: Int? {
        switch self {
        case .none: return 0
        case .contentLength(let n): return n
        case .chunked, .untilClose: return nil
        }
    }
}
