import SluiceBuffers
import SluiceEventLoop
import SluiceSystem
import SluiceTLS

/// A connected socket as both sides of the proxy use it: the descriptor, its optional TLS
/// session, pooled buffers, edge-triggered readiness, sticky hang-up, one read (`fill`) and
/// one write (`flush`) at a time.
///
/// Stored inline in a `ClientConnection` or `UpstreamConnection` (no allocation of its own);
/// loop thread only. What a read or a write *means* (an EOF mid-body, a write to a client
/// that left) is the owner's business: the channel only records it.
struct SocketChannel {
    let fd: Int32
    /// The worker's loop and buffer pool, which outlive every connection of the worker. Held
    /// `unowned(unsafe)` so that no call on the hot path retains them.
    unowned(unsafe) let loop: EventLoop
    unowned(unsafe) let pool: BufferPool
    var tls: TLSConnection?
    var inBuf: ByteBuffer?
    var outBuf: ByteBuffer?
    /// A read may return bytes (an edge came and no read has drained the socket since).
    var readable = false
    var writable: Bool
    /// EPOLLOUT interest is on (connecting, or after a short write until the socket drains).
    var watchingWrite = false
    /// EPOLLRDHUP/EPOLLHUP/EPOLLERR seen: the peer closed or the socket failed. With
    /// edge-triggered epoll no further edge will come, so reads go on until they return the
    /// end even after a short read (an EOF that arrives with the last bytes, DESIGN §5).
    var hungUp = false
    /// A read returned the end of the stream.
    var eof = false
    /// A read or write failed (reset, TLS error).
    var failed = false

    init(fd: Int32, tls: TLSConnection?, writable: Bool, loop: EventLoop, pool: BufferPool) {
        self.fd = fd
        self.loop = loop
        self.pool = pool
        self.tls = tls
        self.writable = writable
    }

    // No computed properties here: reading one through the owning class's stored `channel`
    // copies the whole struct (callgrind showed 4 copies per request); owners read the stored
    // fields instead (`pendingOut`, `hasInput` on the connection classes).

    /// Records an epoll event's readiness bits. True when the socket became writable.
    @inline(__always)
    mutating func note(_ events: UInt32) -> Bool {
        if events & (EpollEvents.readable | EpollEvents.hangup | EpollEvents.error) != 0 { readable = true }
        if events & (EpollEvents.hangup | EpollEvents.error) != 0 { hungUp = true }
        guard events & EpollEvents.writable != 0 else { return false }
        writable = true
        return true
    }

    @inline(__always)
    mutating func ensureIn() -> ByteBuffer {
        if let b = inBuf { return b }
        let b = pool.acquire()
        inBuf = b
        return b
    }

    @inline(__always)
    mutating func ensureOut() -> ByteBuffer {
        if let b = outBuf { return b }
        let b = pool.acquire()
        outBuf = b
        return b
    }

    /// Reads once into `inBuf`, growing it up to `maxBuffer` when full (a head larger than a
    /// standard buffer). True when bytes arrived or the stream ended or failed.
    mutating func fill(maxBuffer: Int) -> Bool {
        guard readable, !eof, !failed else { return false }
        let b = ensureIn()
        if b.writableCount < 4096 { b.compact() }
        if b.writableCount == 0 {
            guard b.capacity < maxBuffer else { return false }
            b.reserve(min(b.capacity, maxBuffer - b.capacity))
        }
        switch StreamIO.read(fd, tls, b.writePointer, b.writableCount) {
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

    /// What one `flush` did.
    enum Flushed {
        /// Nothing to write, or the socket is not writable now.
        case idle
        /// `count` bytes went out (fewer than pending: EPOLLOUT is now watched).
        case wrote(Int)
        /// The write failed: the peer is gone.
        case failed
    }

    /// Writes as much of `outBuf` as the socket takes.
    mutating func flush() -> Flushed {
        guard writable, !failed, let b = outBuf, !b.isEmpty else { return .idle }
        let want = b.readableCount
        switch StreamIO.write(fd, tls, b.readPointer, want) {
        case .wrote(let n):
            b.consume(n)
            if n < want { blockedOnWrite() }
            return n > 0 ? .wrote(n) : .idle
        case .wouldBlock:
            blockedOnWrite()
            return .idle
        case .wantRead:
            writable = false  // renegotiation is off: not expected; the next read event retries
            return .idle
        case .error:
            failed = true
            return .failed
        }
    }

    /// The socket took less than offered: wait for EPOLLOUT.
    @inline(__always)
    mutating func blockedOnWrite() {
        writable = false
        watchWrite(true)
    }

    @inline(__always)
    mutating func watchWrite(_ on: Bool) {
        guard watchingWrite != on else { return }
        watchingWrite = on
        loop.watchWritable(fd, on)
    }

    /// Gives the buffers back to the pool once empty (idle connections hold none).
    mutating func releaseIdleBuffers() {
        if let b = inBuf, b.isEmpty {
            pool.release(b)
            inBuf = nil
        }
        if let b = outBuf, b.isEmpty {
            pool.release(b)
            outBuf = nil
        }
    }

    /// Deregisters and closes the socket and returns both buffers. Call once.
    mutating func close() {
        loop.deregister(fd)
        Socket.close(fd)
        if let b = inBuf { pool.release(b) }
        if let b = outBuf { pool.release(b) }
        inBuf = nil
        outBuf = nil
    }
}
