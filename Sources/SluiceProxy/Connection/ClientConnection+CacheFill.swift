import SluiceBuffers
import SluiceCache
import SluiceHTTP
import SluiceSystem

/// Fills: a miss or revalidation whose response is kept while it streams to its client
/// (and to its waiters), conditional revalidation, and the end of an exchange's cache work.
/// Loop thread.
extension ClientConnection {
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
