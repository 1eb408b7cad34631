import SluiceBalancing
import SluiceBuffers
import SluiceCache
import SluiceEventLoop
import SluiceHTTP
import SluiceSystem
import SluiceTLS

/// One HTTP/1 client connection: framing over its `SocketChannel`, and the I/O half of the
/// `Exchange` it is running (the exchange decides; this class runs its actions).
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
final class ClientConnection: EventHandler, TimerTarget {
    enum Phase { case handshake, head, exchange, tunnel, closing, lingering, closed }
    enum RequestBody: Equatable { case none, length(Int), chunked }
    /// What the connection's own deadline waits for outside an exchange (during one, the
    /// exchange's phase owns the deadline: `Exchange.deadline`).
    enum Wait {
        /// TLS handshake (`tls.handshake_timeout`).
        case handshake
        /// The request head arriving (`client_head`), also a new connection's first request.
        case clientHead
        /// Between requests on a kept-alive connection (`client_idle`).
        case clientIdle
        /// The last answer flushing and the lingering close.
        case closing
    }

    static let highWater = 64 * 1024

    unowned(unsafe) let worker: Worker
    let peer: SocketAddress
    /// The client's IP as text, formatted once per connection (X-Forwarded-For, access log).
    let clientIP: [UInt8]
    /// The listener that accepted this connection. Its index in the current snapshot can change
    /// on reload (-1 once a reload removed it: the connection then ends after its request).
    let listener: ListenerHandler
    @inline(__always) var listenerIndex: Int { listener.listenerIndex }
    var listenerName: String { listener.name }
    var phase: Phase = .head
    /// The client's socket: its TLS session on a TLS listener, buffers, readiness, hang-up.
    var channel: SocketChannel
    @inline(__always) var fd: Int32 { channel.fd }
    var readable: Bool {
        get { channel.readable }
        set { channel.readable = newValue }
    }
    var tls: TLSConnection? {
        get { channel.tls }
        set { channel.tls = newValue }
    }
    /// The client ended its side (or the socket failed): nothing more will be read.
    @inline(__always) var clientEOF: Bool { channel.eof || channel.failed }
    var driving = false
    var again = false
    var wait: Wait = .clientHead
    var deadline: UInt64 = 0
    var armedDeadline: UInt64 = .max
    var timerSlot = TimerSlot()
    var requestsServed = 0
    var headStarted = false

    /// The current request's state machine: phase, deadline, retries, the answer's framing.
    var exchange = Exchange()
    var head = RequestHead()
    var snapshot: Snapshot?
    /// The worker's state for the exchange's cluster, of the snapshot it was routed on (a
    /// retired one after a reload); its budget slot and queue place go back to it.
    var cluster: WorkerCluster?
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
    var requestChunked = ChunkedDecoder(errorStatus: 400)
    var requestBodyBytes = 0
    var response = ResponseHead()
    var responseRemaining = 0
    var responseChunked = ChunkedDecoder(errorStatus: 502)
    var bytesSent = 0
    /// The unsent bytes a connect-failure retry carries to the next backend.
    var carriedOutput: ByteBuffer?
    /// When this request joined its cluster's queue (0: not queued); kept while a waiter that
    /// lost its slot to a race goes back to its place.
    var queuedAt: UInt64 = 0
    /// Its ticket in the cluster's process-wide queue while it waits (0: none).
    var queueTicket: UInt64 = 0
    /// Tickets handed out by this connection (part of the ticket, so a stale one never matches).
    var queueSeq: UInt32 = 0
    /// The request's priority lane (`WaitQueue`): 0 critical, 1 normal, 2 sheddable.
    var lane = 1
    /// Backend id counted in the worker's `active` (and, for limited clusters, its slot in the
    /// backend's `inFlight`) for this exchange, or -1.
    var countedBackend = -1
    /// Whether `countedBackend` holds a slot of the backend's process-wide `inFlight`.
    var holdsSlot = false
    var hashKey: UInt64 = 0
    /// The client address hashed for `hash_on: client_ip` (0: not computed yet).
    var clientIPHash: UInt64 = 0

    // The response cache (ClientConnection+CacheLookup, +CacheAnswer, +CacheFill), for an
    // exchange of a cached route.
    var cacheRoute: RouteCache?
    var cacheStore: CacheStore?
    var cachePlan = CachePlan.none
    var cacheRequest = RequestFacts()
    /// When the request head was read (wall clock, ns): the request time of §4.2.3.
    var cacheRequestWall: UInt64 = 0
    /// The primary key (host and target) and its hash; the buffer keeps its capacity.
    var cacheKey: [UInt8] = []
    var cacheHash: UInt64 = 0
    var varyScratch: [UInt8] = []
    /// The entry the answer streams from (a hit, or the fill a coalesced waiter shares).
    var cacheReader: CacheEntry?
    var cacheOffset = 0
    /// Where the answer's body ends in the entry (a range's last byte + 1; `Int.max`: its end).
    var cacheEnd = Int.max
    /// The fill this exchange fetches; `cacheStoring` once its head was found storable.
    var cacheFill: CacheEntry?
    var cacheStoring = false
    /// The fill refreshes a stale entry (`fwd=stale`).
    var cacheFillStale = false
    /// A stale entry that may answer in place of a failure (stale-if-error, -if-overloaded).
    var cacheStale: CacheEntry?
    var cacheBypassStatus: StaticString = "sluice; fwd=bypass"
    var cacheResult: CacheResult?
    /// An unsafe request of a cached route: its success invalidates the key (§4.4).
    var cacheInvalidates = false
    /// A stale entry this request found within stale-while-revalidate: refreshed in the background.
    var cacheRefreshOf: CacheEntry?
    /// This connection is a background refresh of this stale entry (`Worker+CacheRefresh`).
    var refreshing: CacheEntry?

    /// Backend indices tried by the current exchange (the admission queue reads and resets it).
    var tried: [Int] {
        get { exchange.tried }
        set { exchange.tried = newValue }
    }
    /// Whether the connection may go on after the current exchange; set false to end it after.
    var keepAlive: Bool {
        get { exchange.keepAlive }
        set { if !newValue { exchange.forbidKeepAlive() } }
    }
    var requestDone: Bool { exchange.requestDone }
    var status: Int { exchange.status }

    init(worker: Worker, fd: Int32, peer: SocketAddress, listener: ListenerHandler) {
        self.worker = worker
        channel = SocketChannel(fd: fd, tls: nil, writable: true, loop: worker.loop, pool: worker.buffers)
        self.peer = peer
        clientIP = Array(peer.host.utf8)
        self.listener = listener
        deadline = worker.loop.now &+ listener.snapshot.timeouts.clientHead
    }

    // MARK: events

    func handleEvent(_ events: UInt32) {
        if channel.note(events) { channel.watchWrite(false) }
        drive()
    }

    func timerFired(now: UInt64) {
        armedDeadline = .max
        switch phase {
        case .closed: return
        case .exchange, .tunnel:
            let stopped = (upstream?.pendingOut ?? 0) > 0 && (channel.inBuf?.isEmpty ?? true) && !readable
            run(exchange.timerFired(now: now, backendStoppedReading: stopped))
        default:
            if now >= deadline { timedOut() }
        }
        if phase != .closed { drive() }
    }

    /// The deadline of what the connection waits for now: the exchange's phase during one.
    @inline(__always)
    var currentDeadline: UInt64 {
        phase == .exchange || phase == .tunnel ? exchange.deadline : deadline
    }

    /// Enters phase `w` with its own timeout, `nanos` from now.
    @inline(__always)
    func expect(_ w: Wait, _ nanos: UInt64) {
        wait = w
        deadline = worker.loop.now &+ nanos
    }

    @inline(__always)
    func armTimer() {
        let d = currentDeadline
        if d < armedDeadline {
            armedDeadline = d
            worker.loop.arm(self, at: d)
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
        switch StreamIO.handshake(t) {
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
            channel.blockedOnWrite()
            return false
        case .failed:
            worker.countHandshake(listener, ok: false)
            close()
            return true
        }
    }

    // MARK: client I/O

    @inline(__always)
    func ensureIn() -> ByteBuffer { channel.ensureIn() }

    @inline(__always)
    func ensureOut() -> ByteBuffer { channel.ensureOut() }

    @inline(__always) var pendingOut: Int { channel.outBuf?.readableCount ?? 0 }

    /// Reads once from the client. True when bytes arrived or the client closed.
    @inline(__always)
    func readClient(maxBuffer: Int) -> Bool {
        channel.fill(maxBuffer: maxBuffer)
    }

    /// Writes pending output to the client. True when bytes went out or the client vanished.
    func flushClient() -> Bool {
        switch channel.flush() {
        case .wrote:
            // A client reading a streamed answer is progress of the exchange (or tunnel).
            if exchange.extendsOnProgress { exchange.progress(now: worker.loop.now) }
            return true
        case .idle:
            guard channel.failed && pendingOut > 0 else { return false }
            abort()  // the socket failed on a read: nothing left can be answered
            return true
        case .failed:
            abort()  // the client is gone: nothing left to answer
            return true
        }
    }
}
