import Logging
import SluiceBalancing
import SluiceConfig
import SluiceEventLoop
import SluiceSystem
import SluiceTLS
import Synchronization

/// Counters a worker keeps for itself (no sharing, no atomics); read by metrics later.
struct WorkerStats {
    var accepted = 0
    var requests = 0
    var badRequests = 0
    var badResponses = 0
    var connectFailures = 0
    var upstreamResets = 0
    var truncatedResponses = 0
    var noBackend = 0
    var upstreamConnects = 0
}

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
    var stats = WorkerStats()
    var metrics = WorkerMetrics()
    /// Client connections open per listener name (for /status and metrics).
    var connectionsPerListener: [String: Int] {
        var out: [String: Int] = [:]
        for l in listeners { out[l.name, default: 0] += l.connections }
        return out
    }
    var draining = false
    var listeners: [ListenerHandler] = []
    var sessions: [ClientSession?] = []
    var sessionCount = 0
    /// Idle backend connections by backend id, most recently used last.
    var pools: [[UpstreamConnection]] = []
    /// This worker's picker per cluster and tier ([primary, standby]), weights × `SlowStart.scale`.
    var balancers: [[Balancer]] = []
    /// Failover split per cluster, recomputed when the registry's health generation moves.
    var shares = TierShares()
    /// Slow start: per cluster, when the ramp was last applied to `balancers`.
    var ramps: [SlowStartRamp] = []
    var checkers: [HealthChecker] = []
    /// Waiting rooms per cluster (`limits`), and shed counts per cluster and reason.
    var queues: [AdmissionQueue] = []
    var shedCounts: [[Int]] = []
    /// Carried shed counts by cluster name (across reloads).
    var carriedShed: [String: [Int]] = [:]
    var dispatching = false
    /// TLS handshakes per listener name: [succeeded, failed] (a handshake is rare next to its
    /// cost, so a dictionary is fine; names survive reloads that reorder listeners).
    var tlsHandshakes: [String: [Int]] = [:]
    /// Retries in flight and retry counts per cluster (by `RetryReason`), and carried counts by name.
    var retriesInFlight: [Int] = []
    var retryCounts: [[Int]] = []
    var carriedRetries: [String: [Int]] = [:]
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
        loop.onBatchEnd { [unowned self] in self.accessLog.flush() }
        loop.arm(PoolSweeper(self), at: loop.now &+ 1_000_000_000)
    }

    /// Installs a new snapshot. Loop thread only. In-flight sessions keep theirs.
    func apply(_ snap: Snapshot) {
        snapshot = snap
        if pools.count < snap.backendCount {
            pools.append(contentsOf: repeatElement([], count: snap.backendCount - pools.count))
            active.append(contentsOf: repeatElement(0, count: snap.backendCount - active.count))
        }
        if justFailedUntil.count < snap.backendCount {
            justFailedUntil.append(contentsOf: repeatElement(0, count: snap.backendCount - justFailedUntil.count))
        }
        // Weights × SlowStart.scale, so slow start can ramp fractionally (no algorithm's
        // split changes when every weight is multiplied by one factor).
        balancers = snap.clusters.map { c in c.tiers.indices.map { Self.balancer(c, tier: $0, scaled: true) } }
        for (i, name) in metrics.clusters.enumerated() where i < shedCounts.count {
            carriedShed[name, default: Array(repeating: 0, count: ShedReason.allCases.count)] =
                zip(carriedShed[name] ?? Array(repeating: 0, count: ShedReason.allCases.count), shedCounts[i]).map(+)
        }
        shedCounts = snap.clusters.map { _ in Array(repeating: 0, count: ShedReason.allCases.count) }
        for (i, name) in metrics.clusters.enumerated() where i < retryCounts.count {
            carriedRetries[name] = zip(carriedRetries[name] ?? Array(repeating: 0, count: RetryReason.allCases.count), retryCounts[i]).map(
                +)
        }
        retryCounts = snap.clusters.map { _ in Array(repeating: 0, count: RetryReason.allCases.count) }
        retriesInFlight = snap.clusters.map { _ in 0 }
        ramps = snap.clusters.map { _ in SlowStartRamp() }
        flushQueues()
        metrics.reshape(
            listeners: snap.config.listeners.map(\.name), clusters: snap.clusters.map(\.name), backendCount: snap.backendCount)

        shares.invalidate()
        for ch in checkers { ch.stop() }
        checkers = []
        let workerCount = snap.config.workers
        for c in snap.clusters {
            guard let hc = c.config.healthCheck else { continue }
            for b in c.backends where b.id % workerCount == index {
                let ch = HealthChecker(worker: self, backend: b, cluster: c.name, config: hc, tls: c.upstreamTLS)
                checkers.append(ch)
                ch.start()
            }
        }
        splits = snap.config.listeners.map { l in
            l.routes.map { r in SmoothWeightedRoundRobin(weights: r.targets.map(\.weight)) }
        }
    }

    /// A runtime snapshot (the same listeners; new weights): every listener's index now refers
    /// to it. A reload instead moves listeners in `applyListeners`. Loop thread.
    func listenersFollowSnapshot() {
        for h in listeners where !h.removed { h.snapshot = snapshot }
    }

    // MARK: sessions

    func adopt(fd: Int32, peer: SocketAddress, listener: ListenerHandler) {
        let s = ClientSession(
            worker: self, fd: fd, peer: peer, listener: listener)
        let lsnap = listener.snapshot
        if listener.listenerIndex < lsnap.tlsContexts.count, let ctx = lsnap.tlsContexts[listener.listenerIndex] {
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
        stats.accepted &+= 1
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

    func sessionClosed(_ s: ClientSession) {
        let i = Int(s.fd)
        if i < sessions.count, sessions[i] === s { sessions[i] = nil }
        sessionCount -= 1
        s.listener.connections -= 1
        shared.connectionClosed()
        for l in listeners where l.pending { l.resume() }
        if draining && sessionCount == 0 { onDrained?() }
    }

    func activeTimeout(_ s: ClientSession) -> UInt64 {
        s.cluster?.responseTimeout ?? snapshot.timeouts.response
    }

    /// A reload's listener changes, on this worker's thread, right after its new snapshot.
    func applyListeners(_ plan: ListenerPlan) {
        var next: [ListenerHandler] = []
        for h in listeners {
            if let k = plan.keep.first(where: { $0.oldName == h.name && $0.configured == h.configured }) {
                h.listenerIndex = k.index
                h.name = k.name
                h.snapshot = snapshot
                next.append(h)
            } else {
                // Removed: stop accepting; idle connections close, busy ones end after their answer
                // (on the snapshot the listener last had, which `h` keeps).
                h.stop()
                h.removed = true
                for case let s? in sessions where s.listener === h {
                    if s.phase == .head && (s.inBuf?.isEmpty ?? true) { s.close() } else { s.keepAlive = false }
                }
            }
        }
        for a in plan.add {
            let h = ListenerHandler(
                worker: self, fd: a.fd, name: a.name, listenerIndex: a.index, snapshot: snapshot, configured: a.configured)
            do {
                try loop.register(a.fd, h, events: EventLoop.readable)
                next.append(h)
            } catch {
                Socket.close(a.fd)
            }
        }
        listeners = next
    }

    func countHandshake(_ listener: ListenerHandler, ok: Bool) {
        tlsHandshakes[listener.name, default: [0, 0]][ok ? 0 : 1] &+= 1
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
    func beginDrain(_ done: @escaping () -> Void) {
        draining = true
        onDrained = done
        for l in listeners { l.stop() }
        listeners.removeAll()
        for ch in checkers { ch.stop() }
        checkers.removeAll()
        for c in pools { for up in c { up.close() } }
        pools = pools.map { _ in [] }
        for case let s? in sessions where s.phase == .head && (s.inBuf?.isEmpty ?? true) {
            s.close()
        }
        for case let s? in sessions { s.keepAlive = false }
        if sessionCount == 0 { done() }
    }
}
