import DequeModule
import Logging
import SluiceBalancing
import SluiceBuffers
import SluiceCache
import SluiceConfig
import SluiceEventLoop
import SluiceSystem
import SluiceTLS
import Synchronization

/// One event-loop thread: its listening sockets, client sessions, backend pools, counters.
///
/// Everything here is touched only by the worker's own thread, except `loop.execute`,
/// through which the control thread sends snapshots and shutdown.
final class Worker: @unchecked Sendable {
    let index: Int
    let loop: EventLoop
    let shared: SharedState
    var snapshot: Snapshot
    let buffers = BufferPool()
    var metrics = WorkerMetrics()
    /// Client connections open per listener name (for /status and metrics).
    var connectionsPerListener: [String: Int] {
        var out: [String: Int] = [:]
        for l in listeners { out[l.name, default: 0] += l.connections }
        return out
    }
    var draining = false
    var listeners: [ListenerHandler] = []
    var sessions: [ClientConnection?] = []
    var sessionCount = 0
    /// Idle backend connections by backend id, most recently used last.
    var pools: [[UpstreamConnection]] = []
    /// Per backend id: the health object of the backend the current snapshot gives that id
    /// (nil: none). Idle connections of other backends are closed, also those of an earlier
    /// backend whose id was reused.
    var live: [ObjectIdentifier?] = []
    /// This worker's state per cluster of `snapshot` (pickers, ramp, queue, retry budget), in
    /// the snapshot's order; exchanges of older snapshots hold their own (`WorkerCluster`).
    var clusters: [WorkerCluster] = []
    /// Failover split per cluster of `snapshot`, recomputed when the registry's health generation moves.
    var shares = TierShares()
    var checkers: [HealthChecker] = []
    /// Admission messages (wake, shed) for this worker's waiters, run in turn.
    var localMessages = Deque<AdmissionMessage>()
    /// Moves the adaptive limits of the backends this worker owns (nil: none adaptive).
    var tuner: AdaptiveTuner?
    var dispatching = false
    /// This worker's mailbox for the other workers' admission messages (set in `init`).
    var inbox: WorkerInbox!
    var inboxScratch: [AdmissionMessage] = []
    /// This worker's connections waiting on each cache fill (`Worker+Cache`).
    var cacheWaiters: [ObjectIdentifier: [ClientConnection]] = [:]
    /// Waiters the standing rule shed, collected under the queue's lock, answered after.
    var shedScratch: [Waiter] = []
    /// Requests in flight per backend id, on this worker (least_request reads it).
    var active: [Int] = []
    /// Per backend id: until when (monotonic ns) it counts as "just failed" on this worker, after
    /// a connect failure or a reset (failover picks skip it; see `pickPlan`).
    var justFailedUntil: [UInt64] = []
    /// The latest of `justFailedUntil`: before it, some backend just failed (one comparison
    /// keeps the common case off the per-tier scan).
    var justFailedAny: UInt64 = 0
    var random = FastRandom(seed: UInt64.random(in: 1...UInt64.max))
    var splits: [[SmoothWeightedRoundRobin]] = []
    let accessLog: AccessLogWriter
    var requestCounter: UInt64 = 0
    var onDrained: (() -> Void)?

    init(index: Int, snapshot: Snapshot, shared: SharedState) throws(SystemError) {
        self.index = index
        self.loop = try EventLoop(index: index)
        self.shared = shared
        self.snapshot = snapshot
        self.accessLog = AccessLogWriter(sink: shared.accessLog)
        apply(snapshot)
        inbox = WorkerInbox(loop: loop) { [unowned self] in self.drainInbox() }
        loop.onBatchEnd { [unowned self] in self.accessLog.flush() }
        loop.arm(PoolSweeper(self), at: loop.now &+ 1_000_000_000)
    }

    // MARK: sessions

    /// `refreshing`: a background refresh of this stale cache entry (`Worker+CacheRefresh`),
    /// over a Unix socket: no TLS.
    func adopt(fd: Int32, peer: SocketAddress, listener: ListenerHandler, refreshing: CacheEntry? = nil) {
        let s = ClientConnection(
            worker: self, fd: fd, peer: peer, listener: listener)
        s.refreshing = refreshing
        let lsnap = listener.snapshot
        if refreshing == nil, listener.listenerIndex < lsnap.tlsContexts.count, let ctx = lsnap.tlsContexts[listener.listenerIndex] {
            guard let t = try? TLSConnection(context: ctx, fd: fd) else {
                Socket.close(fd)
                shared.connectionClosed()
                return
            }
            s.tls = t
            s.phase = .handshake
            s.expect(.handshake, lsnap.config.listeners[listener.listenerIndex].tls!.handshakeTimeout)
        }
        let i = Int(fd)
        if i >= sessions.count { sessions.append(contentsOf: repeatElement(nil, count: max(i + 1, sessions.count) - sessions.count + 64)) }
        sessions[i] = s
        sessionCount += 1
        listener.connections += 1
        Socket.setNoDelay(fd)
        do {
            try loop.register(fd, s)
        } catch {
            s.close()
            return
        }
        s.readable = true
        s.drive()
    }

    func sessionClosed(_ s: ClientConnection) {
        let i = Int(s.fd)
        if i < sessions.count, sessions[i] === s { sessions[i] = nil }
        sessionCount -= 1
        s.listener.connections -= 1
        shared.connectionClosed()
        for l in listeners where l.pending { l.resume() }
        if draining && sessionCount == 0 { onDrained?() }
    }

    func countHandshake(_ listener: ListenerHandler, ok: Bool) {
        if listener.isCurrent {
            metrics.countHandshake(listener: listener.listenerIndex, ok: ok)
        } else {
            metrics.countRetiredHandshake(listener: listener.name, ok: ok)
        }
    }

    // MARK: request decoration

    func isTLS(_ listener: ListenerHandler) -> Bool {
        let i = listener.listenerIndex
        return i >= 0 && i < listener.snapshot.listenerTLS.count && listener.snapshot.listenerTLS[i]
    }

    /// A request id unique in this process run: process prefix, worker, counter, in hex.
    func appendNewRequestID(to o: ByteBuffer) {
        requestCounter &+= 1
        o.append(string: shared.requestIDPrefix)
        o.append(hex: index)
        o.append(UInt8(ascii: "-"))
        o.append(hex: Int(truncatingIfNeeded: requestCounter))
    }

    // MARK: lifecycle

    /// The drain deadline passed: whatever still runs ends now, answered or logged (loop thread).
    func abandonInFlight() {
        for case let s? in sessions { s.abandon() }
        accessLog.flush()
    }

    /// Stops accepting and closes idle connections; busy ones finish and close. Loop thread.
    func beginDrain(idleGrace: UInt64 = 0, _ done: @escaping () -> Void) {
        draining = true
        onDrained = done
        for l in listeners { l.stop() }
        listeners.removeAll()
        for ch in checkers { ch.stop() }
        checkers.removeAll()
        tuner?.stop()
        for c in pools { for up in c { up.close() } }
        pools = pools.map { _ in [] }
        for case let s? in sessions { s.keepAlive = false }
        if idleGrace == 0 {
            closeIdleSessions()
        } else {
            loop.after(idleGrace) { [self] in closeIdleSessions() }
        }
        if sessionCount == 0 { done() }
    }

    /// Closes the client connections waiting for a request with nothing received yet.
    private func closeIdleSessions() {
        for case let s? in sessions where s.phase == .head && (s.channel.inBuf?.isEmpty ?? true) {
            s.close()
        }
    }
}
