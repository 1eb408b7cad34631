import SluiceBalancing
import SluiceBuffers
import SluiceEventLoop
import SluiceHTTP
import SluiceSystem
import SluiceTLS

/// One client connection and the exchange it is running: the proxy's state machine.
///
/// Loop thread only. Every event (client or upstream socket, timer) ends in `drive()`,
/// which moves bytes until nothing more can move: read the head, pick a backend,
/// forward the request, stream the response, then the next request on the connection.
///
/// ```
///  head ──request parsed──▶ exchange ──response done, keep-alive──▶ head
///    │                        │  └──101 Switching Protocols──▶ tunnel
///    └──bad input / close─────┴──error answer or Connection: close──▶ closing ▶ lingering ▶ closed
/// ```
final class ClientSession: EventHandler, TimerTarget {
    enum Phase { case handshake, head, exchange, tunnel, closing, lingering, closed }
    enum RequestBody: Equatable { case none, length(Int), chunked }
    enum ResponsePhase { case awaitingHead, body, done }
    /// How the response body is written to the client.
    enum ClientBodyMode { case none, raw, chunked }
    /// What the connection's one deadline is waiting for. Each phase has its own timeout and
    /// only its own (DESIGN §3 "Timeouts, one per phase"); a transition re-arms the deadline.
    enum Wait {
        /// TLS handshake (`tls.handshake_timeout`).
        case handshake
        /// The request head arriving (`client_head`), also a new connection's first request.
        case clientHead
        /// Between requests on a kept-alive connection (`client_idle`).
        case clientIdle
        /// In the cluster's queue (`limits.queue_timeout`).
        case queue
        /// TCP connect and upstream TLS handshake (`connect`).
        case connect
        /// The request body streaming to the backend: longest silence (`response`).
        case requestBody
        /// The request fully sent, the response head not yet in (`response`).
        case response
        /// The response body streaming: longest silence (`response`).
        case responseBody
        /// A WebSocket tunnel's inactivity (`client_idle`).
        case tunnel
        /// The last answer flushing and the lingering close.
        case closing
    }

    static let highWater = 64 * 1024

    unowned(unsafe) let worker: Worker
    let fd: Int32
    let peer: SocketAddress
    /// The client's IP as text, formatted once per connection (X-Forwarded-For, access log).
    let clientIP: [UInt8]
    /// The listener that accepted this connection. Its index in the current snapshot can change
    /// on reload (-1 once a reload removed it: the connection then ends after its request).
    let listener: ListenerHandler
    @inline(__always) var listenerIndex: Int { listener.listenerIndex }
    var listenerName: String { listener.name }
    var phase: Phase = .head
    var inBuf: ByteBuffer?
    var outBuf: ByteBuffer?
    var readable = false
    var writable = true
    /// The TLS session of a TLS listener's connection (nil for plain HTTP).
    var tls: TLSConnection?
    /// EPOLLOUT interest is on (only after a short write, until the socket drains).
    var watchingWrite = false
    var clientEOF = false
    /// The client sent its FIN or the socket failed (EPOLLRDHUP/EPOLLHUP/EPOLLERR seen): with
    /// edge-triggered epoll no further edge will come, so reads go on until they return the end.
    var clientHungUp = false
    /// The client closed its side while the current exchange was in service.
    var clientLeft = false
    var driving = false
    var again = false
    var wait: Wait = .clientHead
    var deadline: UInt64 = 0
    var armedDeadline: UInt64 = .max
    var timerSlot = TimerSlot()
    var requestsServed = 0
    var headStarted = false

    // The current exchange.
    var head = RequestHead()
    var snapshot: Snapshot?
    var cluster: ClusterRuntime?
    var backend: BackendRuntime?
    var upstream: UpstreamConnection?
    /// The request head as forwarded, kept for a replay on a fresh connection and for the access log.
    let forwardedHead = ByteBuffer(capacity: 1024)
    var logMethodEnd = 0
    var logPathStart = 0
    var logPathEnd = 0
    var requestIdStart = 0
    var requestIdEnd = 0
    var requestBody: RequestBody = .none
    var requestDone = true
    var requestChunked = ChunkedDecoder(errorStatus: 400)
    var requestBodyBytes = 0
    var method: Method = .get
    var keepAlive = true
    var upgradeRequested = false
    var clientIsHTTP11 = true
    var response = ResponseHead()
    var responsePhase: ResponsePhase = .done
    var responseFraming: BodyFraming = .none
    var responseRemaining = 0
    var responseChunked = ChunkedDecoder(errorStatus: 502)
    var clientBodyMode: ClientBodyMode = .none
    var responseStarted = false
    var upstreamReusable = false
    var status = 0
    var bytesSent = 0
    var startedAt: UInt64 = 0
    var upstreamStartedAt: UInt64 = 0
    var upstreamFirstByteAt: UInt64 = 0
    var tried: [Int] = []
    var replays = 0
    /// Retries made for this request, whether it counts in the worker's retry budget, and the
    /// unsent bytes a connect-failure retry carries to the next backend.
    var retriesUsed = 0
    var retryCounted = false
    var carriedOutput: ByteBuffer?
    /// When this request joined its cluster's queue (0: not queued).
    var queuedAt: UInt64 = 0
    /// Backend id counted in the worker's `active` for this exchange, or -1.
    var countedBackend = -1
    var hashKey: UInt64 = 0
    /// The client address hashed for `hash_on: client_ip` (0: not computed yet).
    var clientIPHash: UInt64 = 0

    init(worker: Worker, fd: Int32, peer: SocketAddress, listener: ListenerHandler) {
        self.worker = worker
        self.fd = fd
        self.peer = peer
        clientIP = Array(peer.host.utf8)
        self.listener = listener
        tried.reserveCapacity(4)
        deadline = worker.loop.now &+ listener.snapshot.timeouts.clientHead
    }

    // MARK: events

    func handleEvent(_ events: UInt32) {
        if events & (EventLoop.readable | EventLoop.hangup | EventLoop.error) != 0 { readable = true }
        if events & (EventLoop.hangup | EventLoop.error) != 0 { clientHungUp = true }
        if events & EventLoop.writable != 0 {
            writable = true
            if watchingWrite {
                watchingWrite = false
                worker.loop.watchWritable(fd, false)
            }
        }
        drive()
    }

    /// The socket took less than offered: wait for EPOLLOUT.
    @inline(__always)
    func blockedOnWrite() {
        writable = false
        if !watchingWrite {
            watchingWrite = true
            worker.loop.watchWritable(fd, true)
        }
    }

    func timerFired(now: UInt64) {
        armedDeadline = .max
        guard phase != .closed else { return }
        if now >= deadline {
            timedOut()
        } else {
            armTimer()
        }
        if phase != .closed { drive() }
    }

    /// Enters phase `w` with its own timeout, `nanos` from now.
    @inline(__always)
    func expect(_ w: Wait, _ nanos: UInt64) {
        wait = w
        deadline = worker.loop.now &+ nanos
    }

    /// Progress in the current phase: its silence limit starts again.
    @inline(__always)
    func extend(_ nanos: UInt64) {
        deadline = worker.loop.now &+ nanos
    }

    @inline(__always)
    func armTimer() {
        if deadline < armedDeadline {
            armedDeadline = deadline
            worker.loop.arm(self, at: deadline)
        }
    }

    /// Moves bytes until no side can make progress. Re-entrant calls are folded into the running one.
    func drive() {
        if driving {
            again = true
            return
        }
        driving = true
        repeat {
            again = false
            var progress = true
            while progress && phase != .closed {
                progress = flushClient()
                switch phase {
                case .handshake: if handshake() { progress = true }
                case .head: if processHead() { progress = true }
                case .exchange: if pumpExchange() { progress = true }
                case .tunnel: if pumpTunnel() { progress = true }
                case .closing: if finishClosing() { progress = true }
                case .lingering: if linger() { progress = true }
                case .closed: break
                }
            }
        } while again && phase != .closed
        driving = false
        if phase != .closed { armTimer() }
    }

    // MARK: TLS

    /// Handshake phase (TLS listeners): until the session is established, then read heads.
    func handshake() -> Bool {
        guard let t = tls else {
            phase = .head
            return true
        }
        switch t.handshake() {
        case .done:
            worker.countHandshake(listener, ok: true)
            phase = .head
            readable = true  // the client's first request may already sit decrypted in OpenSSL
            expect(.clientHead, listener.snapshot.timeouts.clientHead)
            return true
        case .wantRead:
            readable = false
            return false
        case .wantWrite:
            blockedOnWrite()
            return false
        case .closed, .failed:
            worker.countHandshake(listener, ok: false)
            close()
            return true
        }
    }

    // MARK: client I/O

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

    /// Reads once from the client. True when bytes arrived or the client closed.
    func readClient(maxBuffer: Int) -> Bool {
        guard readable, !clientEOF else { return false }
        let b = ensureIn()
        if b.writableCount < 4096 { b.compact() }
        if b.writableCount == 0 {
            guard b.capacity < maxBuffer else { return false }
            b.reserve(min(b.capacity, maxBuffer - b.capacity))
        }
        switch StreamIO.read(fd, tls, b.writePointer, b.writableCount) {
        case .data(let n, let drained):
            b.writeIndex += n
            if drained && !clientHungUp { readable = false }
        case .end, .error:
            clientEOF = true
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

    /// Writes pending output to the client. True when bytes went out or the client vanished.
    func flushClient() -> Bool {
        guard writable, let b = outBuf, !b.isEmpty else { return false }
        let want = b.readableCount
        switch StreamIO.write(fd, tls, b.readPointer, want) {
        case .wrote(let n):
            b.consume(n)
            if n < want { blockedOnWrite() }
            if n > 0 {
                // A client reading a streamed answer is progress of the exchange (or tunnel).
                if wait == .responseBody { extend(worker.activeTimeout(self)) }
                if wait == .tunnel { extend(snapshot?.timeouts.clientIdle ?? listener.snapshot.timeouts.clientIdle) }
            }
            return n > 0
        case .wouldBlock:
            blockedOnWrite()
            return false
        case .wantRead:
            writable = false  // renegotiation is off: not expected; the next read event retries
            return false
        case .error:
            // The client is gone: nothing left to answer.
            abort()
            return true
        }
    }
}
