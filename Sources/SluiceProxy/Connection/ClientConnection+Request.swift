import Glibc
import SluiceBalancing
import SluiceEventLoop
import SluiceHTTP
import SluiceSystem

extension ClientConnection {
    /// Head phase: wait for, read and parse the next request head.
    func processHead() -> Bool {
        // The listener's snapshot: the current one, or the last one that had it (removed by a
        // reload, its connections drain and their indices stay consistent).
        let snap = listener.snapshot
        guard let b = channel.inBuf, !b.isEmpty else {
            if clientEOF {
                close()
                return true
            }
            // Idle, of a removed listener: ends. Idle when a drain began: `Worker.beginDrain`
            // closes it; a request arriving first is read and answered, never dropped unread.
            if listener.removed {
                close()
                return true
            }
            if readClient(maxBuffer: snap.limits.maxRequestHead + 4096) { return true }
            releaseIdleBuffers()
            return false
        }
        if !headStarted {
            headStarted = true
            expect(.clientHead, snap.timeouts.clientHead)
        }
        let limits = RequestLimits(maxHead: snap.limits.maxRequestHead, maxFields: snap.limits.maxRequestHeaders)
        switch head.parse(b.readable, limits: limits) {
        case .incomplete:
            if clientEOF {
                close()
                return true
            }
            return readClient(maxBuffer: snap.limits.maxRequestHead + 4096)
        case .invalid(let e):
            sendError(e.status, e.reason)
            return true
        case .complete(let length):
            startExchange(headLength: length)
            return true
        }
    }

    func releaseIdleBuffers() { channel.releaseIdleBuffers() }

    /// A complete head is at the front of `channel.inBuf`: route it, forward it, start the exchange.
    func startExchange(headLength: Int) {
        let snap = listener.snapshot
        let b = channel.inBuf!
        let p = UnsafeRawPointer(b.readPointer)
        bytesSent = 0
        cluster = nil
        backend = nil
        cacheResult = nil
        cacheInvalidates = false
        exchange.begin(
            now: worker.loop.now, method: head.method, body: head.framing, http11: head.isHTTP11,
            keepAlive: head.keepAlive && !worker.draining && !listener.removed, upgrade: head.upgradeIndex >= 0)
        snapshot = snap
        phase = .exchange
        requestBodyBytes = 0

        // Route: host without port, path in origin-form.
        var hostStart = 0
        var hostEnd = 0
        if head.isAbsoluteForm {
            hostStart = head.authorityStart
            hostEnd = head.authorityEnd
        } else if head.hostIndex >= 0 {
            hostStart = Int(head.fields[head.hostIndex].valueStart)
            hostEnd = Int(head.fields[head.hostIndex].valueEnd)
        }
        hostEnd = Self.stripPort(p, hostStart, hostEnd)
        let router = snap.routers[listenerIndex]
        var pathStart = head.pathStart
        var pathEnd = head.pathEnd
        if pathEnd == pathStart || p.load(fromByteOffset: pathStart, as: UInt8.self) != UInt8(ascii: "/") {
            pathStart = 0
            pathEnd = 0
        }
        let routeIndex = router.match(
            host: UnsafeRawBufferPointer(start: p + hostStart, count: hostEnd - hostStart),
            path: pathEnd > pathStart
                ? UnsafeRawBufferPointer(start: p + pathStart, count: pathEnd - pathStart)
                : UnsafeRawBufferPointer(start: Self.slash, count: 1))

        // The forwarded head is built first: the access log reads method and path from it.
        writeForwardedHead(p)
        if let routeIndex, refusedByRateLimit(p, route: routeIndex, headLength: headLength) { return }
        var c: WorkerCluster? = nil
        if let routeIndex {
            lane = router.routes[routeIndex].lane
            let wc = listener.clusters[worker.pickCluster(listener: listener, route: routeIndex)]
            if wc.runtime.balance == .hash { hashKey = computeHashKey(p, wc.runtime) }
            c = wc
            cluster = wc
            if let rc = router.routes[routeIndex].cache, let store = snap.cache {
                // An Upgrade (WebSocket) GET is never a fill: its 101 would hold the key's waiters.
                if (head.method == .get || head.method == .head) && head.framing == .none && head.upgradeIndex < 0 {
                    prepareCache(p, rc, store, host: hostStart..<hostEnd)
                } else if head.method != .options && head.method != .trace && head.method != .connect {
                    prepareInvalidation(p, store, host: hostStart..<hostEnd)
                }
            }
        }
        b.consume(headLength)
        headStarted = false

        guard let wc = c else {
            run(exchange.fail(ErrorAnswer(404, "no route matches this request")))
            return
        }
        cluster = wc
        let rt = wc.runtime
        switch head.framing {
        case .contentLength(let n):
            if n > snap.limits.maxRequestBody {
                run(exchange.fail(ErrorAnswer(413, "request body too large")))
                return
            }
            requestBody = .length(n)
        case .chunked:
            requestChunked.reset()
            requestBody = .chunked
        case .none, .untilClose:
            requestBody = .none
        }
        let policy = Exchange.Policy(
            connect: rt.connectTimeout, response: rt.responseTimeout, queue: rt.config.limits?.queueTimeout ?? 0,
            tunnelIdle: snap.timeouts.clientIdle, retries: rt.retries)
        if cacheRoute != nil {
            exchange.policy = policy
            if answerFromCache() { return }
        }
        run(exchange.routed(policy))
    }

    nonisolated(unsafe) static let slash: UnsafeRawPointer = {
        let p = UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 1)
        p.storeBytes(of: UInt8(ascii: "/"), as: UInt8.self)
        return UnsafeRawPointer(p)
    }()

    @inline(__always)
    static func stripPort(_ p: UnsafeRawPointer, _ start: Int, _ end: Int) -> Int {
        var i = end
        while i > start {
            let c = p.load(fromByteOffset: i - 1, as: UInt8.self)
            if c == UInt8(ascii: ":") { return i - 1 }
            if c < 48 || c > 57 { return end }
            i -= 1
        }
        return end
    }

    /// Picks a backend (not one already tried) and attaches a pooled or new connection.
    /// `after`: the backend that just refused or reset this request (a failover pick, see
    /// `Worker.pickPlan`). After a replay the connection is always a fresh one.
    ///
    /// In a cluster with `limits` the backend's slot is taken with one atomic add, and a request
    /// that finds every backend full, or waiters at least as important as itself ahead of it,
    /// waits in the cluster's process-wide queue (`Worker.enqueue`).
    /// `granted`: the queue handed this request a slot (`Worker.enqueue` found one free);
    /// `round` bounds the retries when slots keep being taken by others in between.
    func connectToBackend(after failed: BackendRuntime? = nil, granted: Bool = false, round: Int = 0) {
        guard let wc = cluster else { return }
        let c = wc.runtime
        let woken = granted || exchange.state == .queued
        if woken { _ = exchange.slotGranted() }
        releaseBackendSlot()
        var index: Int? = nil
        if let adm = c.admission, !woken, failed == nil, adm.hasWaiters(atOrAbove: lane) {
            index = nil  // others wait ahead of this request: it queues behind them
        } else {
            index = worker.pickBackend(wc, excluding: exchange.tried, hashKey: hashKey, lane: lane, after: failed)
            if let i = index, c.limited, !takeSlot(c, c.backends[i]) { index = nil }
        }
        guard let index else {
            // Every available backend at its limit: wait for a slot.
            let canWait =
                c.limited && worker.hasEligibleBackend(wc, excluding: exchange.tried, lane: lane, respectLimits: false, after: failed)
            guard canWait else {
                run(exchange.noBackend(canWait: false, admitted: false, now: worker.loop.now))
                return
            }
            // A stale copy within stale_if_overloaded answers now rather than after a wait.
            if !woken && cacheStale != nil && serveStale(onError: false) { return }
            switch worker.enqueue(self, wc, putBack: woken, mayTakeFreeSlot: round < 3) {
            case .waiting:
                run(exchange.noBackend(canWait: true, admitted: true, now: queuedAt))
            case .refused:
                run(exchange.noBackend(canWait: true, admitted: false, now: worker.loop.now))
            case .slotFree:
                connectToBackend(after: failed, granted: true, round: round + 1)
            }
            return
        }
        let be = c.backends[index]
        backend = be
        worker.active[be.id] += 1
        countedBackend = be.id
        guard let up = worker.upstreamConnection(to: be, fresh: exchange.replays > 0, tls: c.upstreamTLS) else {
            exchange.backendChosen(index, connected: false, now: worker.loop.now)
            run(exchange.upstreamFailed(.connect(timedOut: false)))
            return
        }
        exchange.backendChosen(index, connected: up.connected, now: worker.loop.now)
        attach(up)
    }

    /// Runs what the exchange asked for (loop thread). Answers, cuts and closes leave the
    /// exchange phase; picks and retries may call back here (bounded by `retries.attempts`).
    func run(_ action: ExchangeAction) {
        switch action {
        case .wait, .interim, .forward, .tunnel:
            break  // the response-head actions are run where the head is (`handleResponseHead`)
        case .pick(let failover):
            connectToBackend(after: failover ? backend : nil)
        case .blame(let failure):
            blame(failure)
            let failed = backend
            run(exchange.retryOrAnswer(after: failure) { retryCapacity(after: failed) })
        case .retry(let reason, let carry):
            retry(reason, carry: carry)
        case .replay:
            replay()
        case .answer(let e):
            if e.status >= 500 && cacheRoute != nil && serveStale(onError: true) { return }
            sendError(e.status, e.reason, retryAfter: e.retryAfter, keepAlive: exchange.connectionContinues)
        case .shed(let reason):
            if queueTicket != 0 { worker.dequeue(self, shedNow: true) }
            if cacheRoute != nil && serveStale(onError: reason == .noBackend) { return }
            worker.countShed(cluster, reason, lane: lane)
            sendError(503, reason.answer, retryAfter: worker.retryAfter(cluster, reason), keepAlive: exchange.connectionContinues)
        case .finish(let reuse):
            finishExchange(reuse: reuse)
        case .cut:
            cut()
        case .abort:
            abort()
        case .close:
            close()
        }
    }

    /// The key `balance: hash` places this request by: a header's value, a cookie's value,
    /// or the client address (also the fallback when the header or cookie is absent).
    func computeHashKey(_ p: UnsafeRawPointer, _ c: ClusterRuntime) -> UInt64 {
        if !c.hashHeader.isEmpty {
            for f in head.fields where Int(f.nameEnd - f.nameStart) == c.hashHeader.count {
                let match = c.hashHeader.withUnsafeBytes { h in
                    (0..<h.count).allSatisfy { k in
                        var ch = p.load(fromByteOffset: Int(f.nameStart) + k, as: UInt8.self)
                        if ch >= 65 && ch <= 90 { ch |= 0x20 }
                        return ch == h[k]
                    }
                }
                if match {
                    return Maglev.hash(UnsafeRawBufferPointer(start: p + Int(f.valueStart), count: Int(f.valueEnd - f.valueStart)))
                }
            }
        } else if !c.hashCookie.isEmpty {
            for f in head.fields where Int(f.nameEnd - f.nameStart) == 6 {
                let name = UnsafeRawBufferPointer(start: p + Int(f.nameStart), count: 6)
                guard name.elementsEqual("cookie".utf8, by: { ($0 | 0x20) == $1 }) else { continue }
                if let v = Self.cookieValue(p, Int(f.valueStart), Int(f.valueEnd), c.hashCookie) {
                    return Maglev.hash(v)
                }
            }
        }
        if clientIPHash == 0 { clientIPHash = clientIP.withUnsafeBytes { Maglev.hash($0) } | 1 }
        return clientIPHash
    }

    /// The value of cookie `name` in a Cookie field value (`a=1; b=2`), or nil.
    static func cookieValue(_ p: UnsafeRawPointer, _ start: Int, _ end: Int, _ name: [UInt8]) -> UnsafeRawBufferPointer? {
        var i = start
        while i < end {
            while i < end && (p.load(fromByteOffset: i, as: UInt8.self) == 0x20 || p.load(fromByteOffset: i, as: UInt8.self) == 0x3B) {
                i += 1
            }
            let ns = i
            while i < end && p.load(fromByteOffset: i, as: UInt8.self) != UInt8(ascii: "=")
                && p.load(fromByteOffset: i, as: UInt8.self) != 0x3B
            {
                i += 1
            }
            let ne = i
            var vs = i
            var ve = i
            if i < end && p.load(fromByteOffset: i, as: UInt8.self) == UInt8(ascii: "=") {
                vs = i + 1
                i = vs
                while i < end && p.load(fromByteOffset: i, as: UInt8.self) != 0x3B { i += 1 }
                ve = i
            }
            if ne - ns == name.count && name.withUnsafeBytes({ memcmp(p + ns, $0.baseAddress!, name.count) == 0 }) {
                return UnsafeRawBufferPointer(start: p + vs, count: ve - vs)
            }
        }
        return nil
    }

    func attach(_ up: UpstreamConnection) {
        upstream = up
        up.session = self
        if let carry = carriedOutput {
            // A connect-failure retry: what the failed backend never received goes to this one.
            carriedOutput = nil
            if let fresh = up.channel.outBuf { worker.buffers.release(fresh) }
            up.channel.outBuf = carry
            return
        }
        let out = up.ensureOut()
        if head.hostIndex < 0 && !head.isAbsoluteForm {
            // HTTP/1.0 without Host: HTTP/1.1 upstream needs one; name the backend.
            out.append(UnsafeRawPointer(forwardedHead.readPointer), forwardedHead.readableCount - 2)
            out.append("Host: ")
            backend!.hostHeader.withUnsafeBytes { out.append($0) }
            out.append("\r\n\r\n")
        } else {
            out.append(UnsafeRawPointer(forwardedHead.readPointer), forwardedHead.readableCount)
        }
    }

    /// Moves the exchange along the upstream side: connected ends `connect`; the request fully
    /// sent starts `response` (DESIGN §3: from the request fully sent to the first response
    /// byte). Called after every pump of the exchange.
    func advanceUpstreamPhase(_ up: UpstreamConnection) {
        guard up.connected else { return }
        let now = worker.loop.now
        if exchange.state == .connecting { exchange.connected(now: now) }
        if exchange.state == .sending && requestDone && up.pendingOut == 0 { exchange.requestSent(now: now) }
    }

    /// Moves request body bytes from the client to the backend, re-framed, within the high-water mark.
    func pumpRequestBody(_ up: UpstreamConnection) -> Bool {
        var progress = false
        let limit = snapshot!.limits.maxRequestBody
        while !requestDone {
            let out = up.ensureOut()
            if out.readableCount >= Self.highWater { break }
            guard let b = channel.inBuf, !b.isEmpty else {
                if clientEOF {
                    // The client left in the middle of its body.
                    run(exchange.clientClosed())
                    return true
                }
                if readClient(maxBuffer: BufferPool.standardSize) {
                    progress = true
                    continue
                }
                break
            }
            progress = true
            switch requestBody {
            case .length(let remaining):
                let take = min(remaining, b.readableCount)
                out.append(UnsafeRawPointer(b.readPointer), take)
                b.consume(take)
                requestBodyBytes += take
                if take == remaining {
                    exchange.requestBodyEnded()
                } else {
                    requestBody = .length(remaining - take)
                }
            case .chunked:
                var total = requestBodyBytes
                do {
                    let used = try requestChunked.decode(b.readable) { piece in
                        ChunkedEncoder.append(piece, to: out)
                        total += piece.count
                    }
                    b.consume(used)
                } catch {
                    run(exchange.fail(ErrorAnswer(error.status, error.reason)))
                    return true
                }
                requestBodyBytes = total
                if total > limit {
                    run(exchange.fail(ErrorAnswer(413, "request body too large")))
                    return true
                }
                if requestChunked.isDone {
                    ChunkedEncoder.appendEnd(to: out)
                    exchange.requestBodyEnded()
                }
            case .none:
                exchange.requestBodyEnded()
            }
        }
        if progress { exchange.progress(now: worker.loop.now) }
        return progress
    }
}
