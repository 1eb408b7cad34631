import SluiceBuffers
import SluiceEventLoop
import SluiceSystem
import SluiceTLS

/// One TCP connection to a backend: idle in its worker's pool, or serving one session.
///
/// Loop thread only. It holds the socket (`SocketChannel`) and the connect/TLS state; the
/// request/response logic lives in the `ClientConnection` that owns it while active.
final class UpstreamConnection: EventHandler {
    unowned(unsafe) let worker: Worker
    let backend: BackendRuntime
    var channel: SocketChannel
    /// Ready for HTTP: TCP connected and, with `upstream_tls`, the handshake done.
    var connected = false
    var tcpConnected = false
    var closed = false
    /// Served a complete exchange before (a failure before any response byte may be a stale keep-alive).
    var reused = false
    /// The session using it; nil while idle in the pool.
    var session: ClientConnection?
    var idleSince: UInt64 = 0

    init(worker: Worker, fd: Int32, backend: BackendRuntime, connected: Bool, tls: TLSConnection?) {
        self.worker = worker
        self.backend = backend
        self.tcpConnected = connected
        self.connected = connected && tls == nil
        channel = SocketChannel(fd: fd, tls: tls, writable: connected && tls == nil, loop: worker.loop, pool: worker.buffers)
    }

    var fd: Int32 { channel.fd }
    /// The backend closed its side (read returned 0).
    var eof: Bool { channel.eof }
    /// The connection failed (refused, reset, TLS error).
    var failed: Bool { channel.failed }
    @inline(__always) var pendingOut: Int { channel.outBuf?.readableCount ?? 0 }
    @inline(__always) var hasInput: Bool { !(channel.inBuf?.isEmpty ?? true) }

    /// Advances the TLS handshake with the backend (after the TCP connect).
    func handshakeStep() {
        guard let t = channel.tls, tcpConnected, !connected, !channel.failed else { return }
        switch StreamIO.handshake(t) {
        case .done:
            connected = true
            channel.writable = true
        case .wantRead:
            break
        case .wantWrite:
            channel.watchWrite(true)
        case .failed:
            channel.failed = true
        }
    }

    func handleEvent(_ events: UInt32) {
        _ = channel.note(events)
        if !tcpConnected && events & (EpollEvents.writable | EpollEvents.error | EpollEvents.hangup) != 0 {
            if Socket.pendingError(channel.fd) == 0 {
                tcpConnected = true
                connected = channel.tls == nil
                channel.writable = connected
            } else {
                channel.failed = true
            }
        }
        if tcpConnected && !connected { handshakeStep() }
        if channel.writable && connected { channel.watchWrite(false) }
        if let s = session {
            s.drive()
        } else if channel.readable {
            // Idle in the pool: the backend closed it or sent bytes nobody asked for.
            worker.discardIdle(self)
        }
    }

    @inline(__always)
    func ensureOut() -> ByteBuffer { channel.ensureOut() }

    /// Reads once into `inBuf`, growing it up to `maxBuffer` when full (a response head larger
    /// than a standard buffer). Returns true when bytes arrived or the state changed (EOF, error).
    @inline(__always)
    func fill(maxBuffer: Int = BufferPool.standardSize) -> Bool {
        guard connected else { return false }
        return channel.fill(maxBuffer: maxBuffer)
    }

    /// Writes as much of `outBuf` as the socket takes. Returns true when bytes left or it failed.
    @inline(__always)
    func flush() -> Bool {
        guard connected else { return false }
        switch channel.flush() {
        case .idle: return false
        case .wrote, .failed: return true
        }
    }

    /// Returns the buffers to the pool once empty (idle connections hold none).
    func releaseBuffers() { channel.releaseIdleBuffers() }

    func close() {
        guard !closed else { return }
        closed = true
        session = nil
        channel.close()
    }
}
