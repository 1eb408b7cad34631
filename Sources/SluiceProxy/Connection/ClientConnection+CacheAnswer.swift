import SluiceBuffers
import SluiceCache
import SluiceHTTP
import SluiceSystem

/// Answers made from the cache: a stored response (whole, a range, 304), a shared fill as
/// it arrives, and a stale copy in place of a failure (docs/caching.md). Loop thread.
extension ClientConnection {
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
        appendConnectionField(o)
        finishCachedAnswer()
    }

    /// `Connection` as the client's connection needs it, and the head's end.
    func appendConnectionField(_ o: ByteBuffer) {
        if !exchange.keepAlive {
            o.append("Connection: close\r\n")
        } else if !exchange.clientIsHTTP11 {
            o.append("Connection: keep-alive\r\n")
        }
        o.append("\r\n")
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

    func finishCachedAnswer() {
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
}
