import SluiceBuffers
import SluiceEventLoop
import SluiceHTTP
import SluiceSystem

extension ClientSession {
    /// Exchange phase: request body out, response in, both bounded by the high-water mark.
    func pumpExchange() -> Bool {
        guard let up = upstream else { return false }
        var progress = false
        if up.failed && !up.connected {
            worker.stats.connectFailures &+= 1
            noteBackendFailure()
            if !retry(.connectFailure) { failExchange(502, "backend refused the connection") }
            return true
        }
        advanceUpstreamPhase(up)
        if !requestDone && pumpRequestBody(up) { progress = true }
        guard phase == .exchange, upstream === up else { return true }
        if up.flush() {
            progress = true
            if wait == .requestBody { extend(cluster!.responseTimeout) }
        }
        advanceUpstreamPhase(up)
        if requestDone && readable && !clientEOF { noticeClientClose() }
        if pumpResponse(up) { progress = true }
        return progress
    }

    func pumpResponse(_ up: UpstreamConnection) -> Bool {
        var progress = false
        while phase == .exchange && upstream === up {
            switch responsePhase {
            case .awaitingHead:
                if let b = up.inBuf, !b.isEmpty {
                    if upstreamFirstByteAt == 0 { upstreamFirstByteAt = worker.loop.now }
                    switch response.parse(b.readable, maxHead: snapshot!.limits.maxRequestHead) {
                    case .complete(let length):
                        handleResponseHead(up, length)
                        progress = true
                        continue
                    case .invalid(let e):
                        worker.stats.badResponses &+= 1
                        failExchange(502, e.reason)
                        return true
                    case .incomplete:
                        break
                    }
                }
                if up.failed || up.eof {
                    upstreamFailedBeforeResponse(up)
                    return true
                }
                if up.fill(maxBuffer: snapshot!.limits.maxRequestHead + 4096) {
                    progress = true
                    continue
                }
                return progress
            case .body:
                if pendingOut >= Self.highWater { return progress }
                if let b = up.inBuf, !b.isEmpty {
                    moveResponseBody(b)
                    progress = true
                    continue
                }
                if up.failed || up.eof {
                    if responseFraming == .untilClose && !up.failed {
                        endResponseBody()
                        upstreamReusable = false
                    } else {
                        // Cut mid-body: the client must see a cut response, never a clean one.
                        worker.stats.truncatedResponses &+= 1
                        cut()
                    }
                    return true
                }
                if up.fill(maxBuffer: BufferPool.standardSize) {
                    progress = true
                    extend(worker.activeTimeout(self))
                    continue
                }
                return progress
            case .done:
                finishExchange()
                return true
            }
        }
        return true
    }

    /// While the request is in service the client socket is still read, so a client that closes
    /// is noticed (its pipelined bytes, if any, wait in `inBuf` for their turn). A FIN is a
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
        if clientEOF { clientLeft = true }
    }

    /// The backend failed before a complete response head: replay on a fresh connection when the
    /// failure is the classic stale keep-alive race and the request can be resent; else 502.
    func upstreamFailedBeforeResponse(_ up: UpstreamConnection) {
        let nothingReceived = upstreamFirstByteAt == 0
        if up.reused && nothingReceived && requestBody == .none && replays == 0 {
            replays += 1
            upstream = nil
            up.close()
            tried.removeLast()
            connectToBackend(after: up.backend)  // a failover pick: skips backends that just failed
            return
        }
        worker.stats.upstreamResets &+= 1
        noteBackendFailure()
        if nothingReceived && retry(.resetBeforeResponse) { return }
        failExchange(502, nothingReceived ? "backend closed the connection before answering" : "incomplete response head")
    }

    func handleResponseHead(_ up: UpstreamConnection, _ length: Int) {
        let b = up.inBuf!
        let p = UnsafeRawPointer(b.readPointer)
        let s = response.status
        if s == 101 {
            guard upgradeRequested else {
                failExchange(502, "backend switched protocols unasked")
                return
            }
            writeResponseHead(p, mode: .none, upgrade: true)
            b.consume(length)
            status = 101
            responseStarted = true
            phase = .tunnel
            logExchange(aborted: false)
            expect(.tunnel, snapshot!.timeouts.clientIdle)
            return
        }
        if s < 200 {
            // 1xx (100 Continue, 103 Early Hints): forwarded to HTTP/1.1 clients; the final response follows.
            if clientIsHTTP11 { writeResponseHead(p, mode: .none, upgrade: false) }
            b.consume(length)
            extend(worker.activeTimeout(self))  // the backend is alive: the final head gets a full `response`
            return
        }
        status = s
        if let c = cluster, let be = backend, c.outlier != nil { worker.recordOutcome(c, be, success: s < 500) }
        if s >= 500, cluster?.retries != nil {
            // Not forwarded: the answer is dropped with its connection and another backend tried.
            status = 0
            if retry(.status, status: s) { return }
            status = s
        }
        responseFraming = response.framing(requestMethod: method)
        upstreamReusable = !response.close
        switch responseFraming {
        case .none:
            clientBodyMode = .none
        case .contentLength(let n):
            clientBodyMode = .raw
            responseRemaining = n
        case .chunked:
            responseChunked.reset()
            clientBodyMode = clientIsHTTP11 ? .chunked : .raw
        case .untilClose:
            upstreamReusable = false
            clientBodyMode = clientIsHTTP11 ? .chunked : .raw
        }
        if clientBodyMode == .raw && !clientIsHTTP11 && responseFraming != .contentLength(responseRemaining) {
            keepAlive = false  // an HTTP/1.0 client learns the end from the close
        }
        if !requestDone { keepAlive = false }  // answered before the body ended: cannot resync
        if worker.draining { keepAlive = false }
        writeResponseHead(p, mode: clientBodyMode, upgrade: false)
        b.consume(length)
        responseStarted = true
        responsePhase = responseFraming == .none ? .done : .body
        expect(.responseBody, worker.activeTimeout(self))
    }

    /// Writes the response head for the client: hop-by-hop fields removed, framing re-stated.
    func writeResponseHead(_ p: UnsafeRawPointer, mode: ClientBodyMode, upgrade: Bool) {
        let o = ensureOut()
        let isFinal = response.status >= 200
        o.append("HTTP/1.1 ")
        o.append(decimal: response.status)
        o.append(" ")
        o.append(p + response.reasonStart, response.reasonEnd - response.reasonStart)
        o.append("\r\n")
        for i in 0..<response.fields.count {
            let f = response.fields[i]
            switch f.kind {
            case .connection, .keepAlive, .proxyConnection, .te, .transferEncoding, .trailer:
                continue
            case .upgrade where !upgrade:
                continue
            case .contentLength where mode != .none || !isFinal:
                continue
            default:
                if response.connectionNamesFields && response.connectionNames(p, field: i) { continue }
            }
            o.append(p + Int(f.nameStart), Int(f.valueEnd - f.nameStart))
            o.append("\r\n")
        }
        if upgrade {
            o.append("Connection: upgrade\r\n")
        } else if isFinal {
            switch mode {
            case .raw:
                if case .contentLength(let n) = responseFraming {
                    o.append("Content-Length: ")
                    o.append(decimal: n)
                    o.append("\r\n")
                }
            case .chunked:
                o.append("Transfer-Encoding: chunked\r\n")
            case .none:
                break
            }
            if !keepAlive {
                o.append("Connection: close\r\n")
            } else if !clientIsHTTP11 {
                o.append("Connection: keep-alive\r\n")
            }
        }
        o.append("\r\n")
    }

    func moveResponseBody(_ b: ByteBuffer) {
        let o = ensureOut()
        let room = max(Self.highWater - o.readableCount, 1)
        switch responseFraming {
        case .contentLength:
            let take = min(responseRemaining, b.readableCount, room)
            o.append(UnsafeRawPointer(b.readPointer), take)
            b.consume(take)
            bytesSent += take
            responseRemaining -= take
            if responseRemaining == 0 { endResponseBody() }
        case .chunked:
            let mode = clientBodyMode
            var sent = 0
            do {
                let input = UnsafeRawBufferPointer(start: b.readPointer, count: min(b.readableCount, room))
                let used = try responseChunked.decode(input) { piece in
                    if mode == .chunked {
                        o.append(hex: piece.count)
                        o.append("\r\n")
                        o.append(piece)
                        o.append("\r\n")
                    } else {
                        o.append(piece)
                    }
                    sent += piece.count
                }
                b.consume(used)
            } catch {
                worker.stats.badResponses &+= 1
                cut()
                return
            }
            bytesSent += sent
            if responseChunked.isDone { endResponseBody() }
        case .untilClose:
            let take = min(b.readableCount, room)
            if clientBodyMode == .chunked {
                o.append(hex: take)
                o.append("\r\n")
                o.append(UnsafeRawPointer(b.readPointer), take)
                o.append("\r\n")
            } else {
                o.append(UnsafeRawPointer(b.readPointer), take)
            }
            b.consume(take)
            bytesSent += take
        case .none:
            endResponseBody()
        }
    }

    func endResponseBody() {
        if clientBodyMode == .chunked { ensureOut().append("0\r\n\r\n") }
        responsePhase = .done
    }

    /// The response is complete: return the backend connection when clean, log, go on.
    func finishExchange() {
        releaseBackendSlot()
        endRetryAccounting()
        if let up = upstream {
            upstream = nil
            up.session = nil
            let clean = upstreamReusable && requestDone && !up.hasInput && !up.eof && !up.failed && up.pendingOut == 0
            if clean {
                worker.releaseUpstream(up, idleTimeout: cluster!.upstreamIdleTimeout)
            } else {
                up.close()
            }
        }
        logExchange(aborted: clientLeft)
        requestsServed += 1
        snapshot = nil
        if requestDone && keepAlive && !worker.draining && !listener.removed {
            phase = .head
            expect(.clientIdle, listener.snapshot.timeouts.clientIdle)
        } else {
            phase = .closing
            expect(.closing, 5_000_000_000)
        }
    }

    /// Counts a connect failure, reset or timeout against the current backend (outlier detection).
    func noteBackendFailure() {
        if let c = cluster, let be = backend, c.outlier != nil { worker.recordOutcome(c, be, success: false) }
    }

    /// Something failed before or during the exchange: answer `status` if nothing was sent yet.
    func failExchange(_ status: Int, _ reason: StaticString) {
        endRetryAccounting()
        if responseStarted {
            cut()
            return
        }
        closeUpstream()
        sendError(status, reason)
    }

    /// Answers with a short plain-text error and closes the connection after it.
    func sendError(_ code: Int, _ reason: StaticString) {
        closeUpstream()
        let o = ensureOut()
        o.clear()
        status = code
        o.append("HTTP/1.1 ")
        o.append(decimal: code)
        o.append(" ")
        o.append(Self.reasonPhrase(code))
        o.append("\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ")
        o.append(decimal: reason.utf8CodeUnitCount + 1)
        o.append("\r\nConnection: close\r\n")
        if code == 503 { o.append("Retry-After: 1\r\n") }
        o.append("\r\n")
        o.append(reason)
        o.append("\n")
        bytesSent = reason.utf8CodeUnitCount + 1
        responseStarted = true
        if phase == .exchange { logExchange(aborted: false) } else if phase == .head { logBadRequest(code) }
        phase = .closing
        expect(.closing, 5_000_000_000)
    }

    static func reasonPhrase(_ code: Int) -> StaticString {
        switch code {
        case 400: return "Bad Request"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 408: return "Request Timeout"
        case 413: return "Content Too Large"
        case 414: return "URI Too Long"
        case 431: return "Request Header Fields Too Large"
        case 502: return "Bad Gateway"
        case 503: return "Service Unavailable"
        case 504: return "Gateway Timeout"
        case 505: return "HTTP Version Not Supported"
        default: return "Error"
        }
    }
}
