import SluiceBuffers
import SluiceEventLoop
import SluiceSystem
import SluiceTLS

/// One TCP connection to a backend: idle in its worker's pool, or serving one session.
///
/// Loop thread only. It holds socket readiness and buffers; the request/response
/// logic lives in the `ClientSession` that owns it while active.
final class UpstreamConnection: EventHandler {
    unowned(unsafe) let worker: Worker
    let fd: Int32
    let backend: BackendRuntime
    var inBuf: ByteBuffer?
    var outBuf: ByteBuffer?
    var readable = false
    var writable = false
    /// EPOLLOUT interest is on: while connecting, and after a short write until drained.
    var watchingWrite = false
    /// Ready for HTTP: TCP connected and, with `upstream_tls`, the handshake done.
    var connected = false
    var tcpConnected = false
    /// TLS to the backend (`upstream_tls`), or nil.
    var tls: TLSConnection?
    /// The backend closed its side (read returned 0).
    var eof = false
    /// The connection failed (reset, refused, ...).
    var failed = false
    /// EPOLLRDHUP/EPOLLHUP/EPOLLERR seen: the backend closed or the socket failed. With
    /// edge-triggered epoll no further edge will come, so reads go on until they return the end
    /// even after a short read (an EOF that arrives with the last bytes, DESIGN §5).
    var hungUp = false
    var closed = false
    /// Served a complete exchange before (a failure before any response byte may be a stale keep-alive).
    var reused = false
    /// The session using it; nil while idle in the pool.
    var session: ClientSession?
    var idleSince: UInt64 = 0

    init(worker: Worker, fd: Int32, backend: BackendRuntime, connected: Bool, tls: TLSConnection?) {
        self.worker = worker
        self.fd = fd
        self.backend = backend
        self.tls = tls
        self.tcpConnected = connected
        self.connected = connected && tls == nil
        self.writable = self.connected
    }

    /// Advances the TLS handshake with the backend (after the TCP connect).
    func handshakeStep() {
        guard let t = tls, tcpConnected, !connected, !failed else { return }
        switch t.handshake() {
        case .done:
            connected = true
            writable = true
        case .wantRead:
            break
        case .wantWrite:
            if !watchingWrite {
                watchingWrite = true
                worker.loop.watchWritable(fd, true)
            }
        case .closed, .failed:
            failed = true
        }
    }

    func handleEvent(_ events: UInt32) {
        if events & (EventLoop.readable | EventLoop.hangup | EventLoop.error) != 0 { readable = true }
        if events & (EventLoop.hangup | EventLoop.error) != 0 { hungUp = true }
        if events & EventLoop.writable != 0 { writable = true }
        if !tcpConnected && events & (EventLoop.writable | EventLoop.error | EventLoop.hangup) != 0 {
            let err = Socket.pendingError(fd)
            if err == 0 {
                tcpConnected = true
                connected = tls == nil
                writable = connected
            } else {
                failed = true
            }
        }
        if tcpConnected && !connected { handshakeStep() }
        if writable && watchingWrite && connected {
            watchingWrite = false
            worker.loop.watchWritable(fd, false)
        }
        if let s = session {
            s.drive()
        } else if readable {
            // Idle in the pool: the backend closed it or sent bytes nobody asked for.
            worker.discardIdle(self)
        }
    }

    @inline(__always)
    func ensureIn() -> ByteBuffer {
        if let b = inBuf { return b }
        let b = worker.buffers.acquire()
        inBuf = b
        return b
    }

    @inline(__always)
    func ensureOut() -> ByteBuffer {
        if let b = outBuf { return b }
        let b = worker.buffers.acquire()
        outBuf = b
        return b
    }

    var pendingOut: Int { outBuf?.readableCount ?? 0 }
    var hasInput: Bool { !(inBuf?.isEmpty ?? true) }

    /// Reads once into `inBuf`, growing it up to `maxBuffer` when full (a response head larger
    /// than a standard buffer). Returns true when bytes arrived or the state changed (EOF, error).
    func fill(maxBuffer: Int = BufferPool.standardSize) -> Bool {
        guard connected, readable, !eof, !failed else { return false }
        let b = ensureIn()
        if b.writableCount < 4096 { b.compact() }
        if b.writableCount == 0 && b.capacity < maxBuffer { b.reserve(min(b.capacity, maxBuffer - b.capacity)) }
        let want = b.writableCount
        guard want > 0 else { return false }
        switch StreamIO.read(fd, tls, b.writePointer, want) {
        case .data(let n, let drained):
            b.writeIndex += n
            if drained && !hungUp { readable = false }
        case .end:
            eof = true
            readable = false
        case .error:
            failed = true
            readable = false
        case .wouldBlock:
            readable = false
            return false
        case .wantWrite:
            readable = false
            blockedOnWrite()
            return false
        }
        return true
    }

    /// Writes as much of `outBuf` as the socket takes. Returns true when bytes left.
    func flush() -> Bool {
        guard connected, writable, !failed, let b = outBuf, !b.isEmpty else { return false }
        let want = b.readableCount
        switch StreamIO.write(fd, tls, b.readPointer, want) {
        case .wrote(let n):
            b.consume(n)
            if n < want { blockedOnWrite() }
            return n > 0
        case .wouldBlock:
            blockedOnWrite()
            return false
        case .wantRead:
            return false
        case .error:
            failed = true
            return true
        }
    }

    @inline(__always)
    func blockedOnWrite() {
        writable = false
        if !watchingWrite {
            watchingWrite = true
            worker.loop.watchWritable(fd, true)
        }
    }

    /// Returns the buffers to the pool once empty (idle connections hold none).
    func releaseBuffers() {
        if let b = inBuf, b.isEmpty {
            worker.buffers.release(b)
            inBuf = nil
        }
        if let b = outBuf, b.isEmpty {
            worker.buffers.release(b)
            outBuf = nil
        }
    }

    func close() {
        guard !closed else { return }
        closed = true
        session = nil
        worker.loop.deregister(fd)
        Socket.close(fd)
        if let b = inBuf { worker.buffers.release(b) }
        if let b = outBuf { worker.buffers.release(b) }
        inBuf = nil
        outBuf = nil
    }
}
