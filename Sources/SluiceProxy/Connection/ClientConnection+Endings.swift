import SluiceBalancing
import SluiceEventLoop
import SluiceHTTP
import SluiceSystem
import SluiceTLS

/// How a connection's exchanges end: timeouts by phase, errors, cuts, closes, lingering.
extension ClientConnection {
    // MARK: endings

    /// The drain deadline passed with this connection still busy (loop thread): a request whose
    /// answer has not started gets a 503 now, one mid-answer is cut; both are logged.
    func abandon() {
        switch phase {
        case .exchange:
            if queueTicket != 0 { worker.dequeue(self, shedNow: false) }
            if exchange.responseStarted {
                logExchange(aborted: true)
            } else {
                run(exchange.abandoned())  // 503
                _ = flushClient()
            }
            close()
        case .closed:
            break
        default:
            close()
        }
    }

    /// The response cannot be completed (the backend died mid-body, sent a bad chunk, went
    /// silent): what was received still goes out, then the connection closes with no terminal
    /// chunk, so the client sees a visibly cut response, never a clean-looking one.
    func cut() {
        guard phase == .exchange else { return }
        if cacheRoute != nil || cacheReader != nil { settleCache(completed: false) }
        logExchange(aborted: true)
        endRetryAccounting()
        closeUpstream()
        phase = .closing
        expect(.closing, 5_000_000_000)
    }

    /// Closes everything now (the client is gone).
    func abort() {
        if phase == .exchange { logExchange(aborted: true) }  // a tunnel was logged at its 101
        closeUpstream()
        close()
    }

    func close() {
        guard phase != .closed else { return }
        if cacheRoute != nil || cacheReader != nil { settleCache(completed: false) }
        endRetryAccounting()  // a connection that ends mid-retry gives its budget slot back
        phase = .closed
        closeUpstream()
        worker.loop.cancelTimer(self)
        channel.close()
        snapshot = nil
        worker.sessionClosed(self)
    }

    func closeUpstream() {
        releaseBackendSlot()
        if let b = carriedOutput, upstream == nil {
            carriedOutput = nil
            worker.buffers.release(b)
        }
        if let up = upstream {
            upstream = nil
            up.close()
        }
    }

    /// After the last answer: flush, half-close, then read and discard until the client closes,
    /// so the answer is not destroyed by a reset (nginx's lingering close).
    func finishClosing() -> Bool {
        guard pendingOut == 0 else { return false }
        tls?.shutdown()
        Socket.shutdownWrite(fd)
        phase = .lingering
        expect(.closing, 2_000_000_000)
        return true
    }

    func linger() -> Bool {
        if clientEOF {
            close()
            return true
        }
        guard readable else { return false }
        let b = ensureIn()
        b.clear()
        _ = readClient(maxBuffer: b.capacity)
        b.clear()
        return true
    }

    /// The connection's own deadline passed (outside an exchange, whose deadlines the
    /// `Exchange` handles): what that means depends only on the phase.
    func timedOut() {
        switch wait {
        case .handshake:
            worker.countHandshake(listener, ok: false)
            close()
        case .clientHead:
            if let b = channel.inBuf, !b.isEmpty {
                sendError(408, "request head not received in time")
            } else {
                close()
            }
        case .clientIdle, .closing:
            close()
        }
    }
}
