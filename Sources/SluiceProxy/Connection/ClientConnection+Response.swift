import SluiceBuffers
import SluiceEventLoop
import SluiceHTTP
import SluiceSystem

extension ClientConnection {
    /// Exchange phase: request body out, response in, both bounded by the high-water mark.
    func pumpExchange() -> Bool {
        guard let up = upstream else {
            if let e = cacheReader { return pumpCache(e) }
            return false
        }
        var progress = false
        if up.failed && !up.connected {
            run(exchange.upstreamFailed(.connect(timedOut: false)))
            return true
        }
        advanceUpstreamPhase(up)
        if !requestDone && pumpRequestBody(up) { progress = true }
        guard phase == .exchange, upstream === up else { return true }
        if up.flush() {
            progress = true
            exchange.progress(now: worker.loop.now)
        }
        advanceUpstreamPhase(up)
        if requestDone && readable && !clientEOF { noticeClientClose() }
        if pumpResponse(up) { progress = true }
        return progress
    }

    func pumpResponse(_ up: UpstreamConnection) -> Bool {
        var progress = false
        while phase == .exchange && upstream === up {
            if exchange.state != .streaming {
                if let b = up.channel.inBuf, !b.isEmpty {
                    exchange.responseBytesArrived(now: worker.loop.now)
                    switch response.parse(b.readable, maxHead: snapshot!.limits.maxRequestHead) {
                    case .complete(let length):
                        handleResponseHead(up, length)
                        progress = true
                        continue
                    case .invalid(let e):
                        run(exchange.fail(ErrorAnswer(502, e.reason)))
                        return true
                    case .incomplete:
                        break
                    }
                }
                if up.failed || up.eof {
                    let received = exchange.firstByteAt != 0
                    upstream = nil
                    up.close()
                    run(exchange.upstreamFailed(.closedBeforeHead(reused: up.reused, received: received)))
                    return true
                }
                if up.fill(maxBuffer: snapshot!.limits.maxRequestHead + 4096) {
                    progress = true
                    continue
                }
                return progress
            }
            if pendingOut >= Self.highWater { return progress }
            if let b = up.channel.inBuf, !b.isEmpty {
                moveResponseBody(b)
                progress = true
                continue
            }
            if up.failed || up.eof {
                if !up.failed && responseFraming == .untilClose { endResponseBody() }
                run(exchange.upstreamEndedDuringBody(failed: up.failed))
                return true
            }
            if up.fill(maxBuffer: BufferPool.standardSize) {
                progress = true
                exchange.progress(now: worker.loop.now)
                continue
            }
            return progress
        }
        return true
    }

    /// While the request is in service the client socket is still read, so a client that closes
    /// is noticed (its pipelined bytes, if any, wait in `channel.inBuf` for their turn). A FIN is a
    /// half-close, which HTTP allows: the exchange goes on (as HAProxy and Envoy do by default),
    /// the answer is still written, requests the client pipelined before its FIN are answered
    /// too, the connection then ends, and the access log marks the exchange `aborted` with the
    /// backend's status.
    func noticeClientClose() {
        let b = ensureIn()
        guard b.readableCount < BufferPool.standardSize else { return }
        while readable && !clientEOF && readClient(maxBuffer: BufferPool.standardSize) {
            if b.readableCount >= BufferPool.standardSize { break }
        }
        if clientEOF { run(exchange.clientClosed()) }
    }

    var responseFraming: BodyFraming { exchange.responseFraming }
    var clientBodyMode: ClientBodyMode { exchange.bodyMode }

    func handleResponseHead(_ up: UpstreamConnection, _ length: Int) {
        let b = up.channel.inBuf!
        let p = UnsafeRawPointer(b.readPointer)
        let s = response.status
        if s >= 500 && cacheStale != nil && serveStale(onError: true) { return }  // stale-if-error
        if s == 304 && cacheFillStale && answerRevalidated(up, p, length) { return }
        if s >= 200 && s != 101, let c = cluster?.runtime, let be = backend {
            if c.outlier != nil { worker.recordOutcome(c, be, success: s < 500) }
            // One branch when not adaptive; else two relaxed adds (`AdaptiveLimit.record`).
            if c.adaptive && s < 500 { be.health.adaptive.record(sentAt: exchange.requestSentAt, now: worker.loop.now) }
        }
        let action = exchange.responseHead(
            status: s, framing: response.framing(requestMethod: exchange.method), backendCloses: response.close,
            draining: worker.draining, now: worker.loop.now
        ) { retryCapacity(after: nil) }
        switch action {
        case .tunnel:
            writeResponseHead(p, mode: .none, upgrade: true)
            b.consume(length)
            phase = .tunnel
            logExchange(aborted: false)
        case .interim(let forward):
            // 1xx (100 Continue, 103 Early Hints): forwarded to HTTP/1.1 clients; the final response follows.
            if forward { writeResponseHead(p, mode: .none, upgrade: false) }
            b.consume(length)
        case .forward(let mode):
            if case .contentLength(let n) = exchange.responseFraming { responseRemaining = n }
            if case .chunked = exchange.responseFraming { responseChunked.reset() }
            writeResponseHead(p, mode: mode, upgrade: false)
            if cacheRoute != nil {
                appendCacheStatus(fillHead(p))
            } else if cacheInvalidates {
                invalidateIfDone()
            }
            b.consume(length)
            if exchange.responseFraming == .none { run(exchange.responseEnded()) }
        default:
            run(action)  // a retry of a 5xx, or 502 for a 101 nobody asked for
        }
    }

    /// Writes the response head for the client (`ForwardedResponseHead`).
    @inline(__always)
    func writeResponseHead(_ p: UnsafeRawPointer, mode: ClientBodyMode, upgrade: Bool) {
        ForwardedResponseHead.write(
            response, p, into: ensureOut(), mode: mode, framing: exchange.responseFraming, upgrade: upgrade,
            keepAlive: exchange.keepAlive, clientIsHTTP11: exchange.clientIsHTTP11)
    }

    func moveResponseBody(_ b: ByteBuffer) {
        let o = ensureOut()
        let room = max(Self.highWater - o.readableCount, 1)
        switch responseFraming {
        case .contentLength:
            let take = min(responseRemaining, b.readableCount, room)
            o.append(UnsafeRawPointer(b.readPointer), take)
            if cacheStoring { keepFillBytes(UnsafeRawBufferPointer(start: b.readPointer, count: take)) }
            b.consume(take)
            bytesSent += take
            responseRemaining -= take
            if responseRemaining == 0 { run(exchange.responseEnded()) }
        case .chunked:
            let mode = clientBodyMode
            var sent = 0
            do {
                let input = UnsafeRawBufferPointer(start: b.readPointer, count: min(b.readableCount, room))
                let keep = cacheStoring
                let used = try responseChunked.decode(input) { piece in
                    if mode == .chunked { ChunkedEncoder.append(piece, to: o) } else { o.append(piece) }
                    if keep { keepFillBytes(piece) }
                    sent += piece.count
                }
                b.consume(used)
            } catch {
                run(exchange.fail(ErrorAnswer(502, "bad chunk from the backend")))
                return
            }
            bytesSent += sent
            if responseChunked.isDone {
                endResponseBody()
                run(exchange.responseEnded())
            }
        case .untilClose:
            let take = min(b.readableCount, room)
            if cacheStoring { keepFillBytes(UnsafeRawBufferPointer(start: b.readPointer, count: take)) }
            if clientBodyMode == .chunked {
                ChunkedEncoder.append(UnsafeRawBufferPointer(start: b.readPointer, count: take), to: o)
            } else {
                o.append(UnsafeRawPointer(b.readPointer), take)
            }
            b.consume(take)
            bytesSent += take
        case .none:
            run(exchange.responseEnded())
        }
    }

    /// Writes the terminal chunk of a re-chunked body.
    func endResponseBody() {
        if clientBodyMode == .chunked { ChunkedEncoder.appendEnd(to: ensureOut()) }
    }

    /// The response is complete: return the backend connection when clean, log, go on.
    func finishExchange(reuse: Bool) {
        if cacheRoute != nil || cacheReader != nil { settleCache(completed: exchange.state == .done) }
        releaseBackendSlot()
        endRetryAccounting()
        if let up = upstream {
            upstream = nil
            up.session = nil
            if reuse && !up.hasInput && !up.eof && !up.failed && up.pendingOut == 0 {
                worker.releaseUpstream(up)
            } else {
                up.close()
            }
        }
        logExchange(aborted: exchange.clientLeft)
        requestsServed += 1
        snapshot = nil
        if exchange.connectionContinues && !worker.draining && !listener.removed {
            phase = .head
            expect(.clientIdle, listener.snapshot.timeouts.clientIdle)
        } else {
            phase = .closing
            expect(.closing, 5_000_000_000)
        }
    }

    /// Counts a connect failure, reset or timeout against the current backend (outlier detection).
    func noteBackendFailure() {
        if let c = cluster?.runtime, let be = backend, c.outlier != nil { worker.recordOutcome(c, be, success: false) }
    }

    /// Answers with a short plain-text error (`ErrorResponse`), Sluice's own answer `code`;
    /// `retryAfter` seconds for a 503 or 429. The connection closes after it, unless
    /// `keepAlive` (a refusal of a request read whole: the next request may follow).
    func sendError(_ code: Int, _ reason: StaticString, retryAfter: Int? = nil, keepAlive: Bool = false) {
        closeUpstream()
        let cached = cacheRoute != nil && phase == .exchange
        if cached && cacheResult == nil { count(.miss) }
        if cacheRoute != nil || cacheReader != nil { settleCache(completed: false, failed: code >= 500) }
        let goesOn = keepAlive && phase == .exchange && !worker.draining && !listener.removed
        bytesSent = ErrorResponse.write(
            status: code, reason: reason, retryAfter: retryAfter, close: !goesOn,
            cacheStatus: cached ? "sluice; fwd=miss; detail=error" : nil, into: ensureOut())
        if goesOn {
            endRetryAccounting()
            logExchange(aborted: false)
            requestsServed += 1
            snapshot = nil
            phase = .head
            expect(.clientIdle, listener.snapshot.timeouts.clientIdle)
            return
        }
        if phase == .exchange {
            logExchange(aborted: false)
            endRetryAccounting()
        } else if phase == .head {
            logBadRequest(code)
        }
        phase = .closing
        expect(.closing, 5_000_000_000)
    }
}
