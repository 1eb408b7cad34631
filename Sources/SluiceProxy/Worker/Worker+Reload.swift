import Logging
import SluiceBalancing
import SluiceBuffers
import SluiceConfig
import SluiceEventLoop
import SluiceSystem
import SluiceTLS
import Synchronization

/// A new snapshot on a worker (a reload, or a runtime change from the admin API): balancers,
/// ramps, queues, counters and health checkers follow it; listeners move or drain. Loop
/// thread only; in-flight exchanges keep the snapshot they started on.
extension Worker {
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
        // The previous snapshot's clusters retire: their exchanges finish on them; their
        // waiters stay in the process-wide queue of their cluster's name (`moveWaiters`).
        for wc in clusters { wc.retired = true }
        clusters = snap.clusters.map(WorkerCluster.init)
        // Every counter (requests, durations, shed, retries, handshakes) carries over by name;
        // before `moveWaiters`, whose sheds count by the new snapshot's indices.
        metrics.reshape(
            listeners: snap.config.listeners.map(\.name), clusters: snap.clusters.map(\.name), backendCount: snap.backendCount)
        moveWaiters()

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
        for h in listeners where !h.removed { h.follow(snapshot, clusters) }
    }

    /// A reload's listener changes, on this worker's thread, right after its new snapshot.
    func applyListeners(_ plan: ListenerPlan) {
        var next: [ListenerHandler] = []
        for h in listeners {
            if let k = plan.keep.first(where: { $0.oldName == h.name && $0.configured == h.configured }) {
                h.listenerIndex = k.index
                h.name = k.name
                h.follow(snapshot, clusters)
                next.append(h)
            } else {
                // Removed: stop accepting; idle connections close, busy ones end after their answer
                // (on the snapshot the listener last had, which `h` keeps).
                h.stop()
                h.removed = true
                for case let s? in sessions where s.listener === h {
                    if s.phase == .head && (s.channel.inBuf?.isEmpty ?? true) { s.close() } else { s.keepAlive = false }
                }
            }
        }
        for a in plan.add {
            let h = ListenerHandler(
                worker: self, fd: a.fd, name: a.name, listenerIndex: a.index, snapshot: snapshot, configured: a.configured)
            do {
                try loop.register(a.fd, h, events: EpollEvents.readable)
                next.append(h)
            } catch {
                Socket.close(a.fd)
            }
        }
        listeners = next
    }
}
