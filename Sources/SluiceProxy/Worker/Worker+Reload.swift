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
        closePoolsOfRemovedBackends(snap)
        // A checker whose backend, cluster, check and TLS context are unchanged keeps running
        // on its own schedule: runtime snapshots (discovery, the API) come often, and restarting
        // every checker each time would check at their rate instead of `interval`.
        var running: [Int: HealthChecker] = [:]
        for ch in checkers { running[ch.backend.id] = ch }
        var next: [HealthChecker] = []
        let workerCount = snap.config.workers
        for c in snap.clusters {
            guard let hc = c.config.healthCheck else { continue }
            for b in c.backends where b.id % workerCount == index {
                if let ch = running[b.id], ch.cluster == c.name, ch.config == hc, ch.tlsContext === c.upstreamTLS,
                    ch.backend.address == b.address
                {
                    running[b.id] = nil
                    next.append(ch)
                    continue
                }
                let ch = HealthChecker(worker: self, backend: b, cluster: c.name, config: hc, tls: c.upstreamTLS)
                next.append(ch)
                ch.start()
            }
        }
        for ch in running.values { ch.stop() }
        checkers = next
        tuner?.stop()
        tuner = AdaptiveTuner.make(for: self, snap)
        splits = snap.config.listeners.map { l in
            l.routes.map { r in SmoothWeightedRoundRobin(weights: r.targets.map(\.weight)) }
        }
    }

    /// Marks the backends of `snap` live and closes the pooled connections of every other one
    /// (removed by discovery, the API or a reload); connections still serving requests that
    /// started on an older snapshot are closed when they come back (`releaseUpstream`).
    func closePoolsOfRemovedBackends(_ snap: Snapshot) {
        if live.count < snap.backendCount { live.append(contentsOf: repeatElement(nil, count: snap.backendCount - live.count)) }
        for i in live.indices { live[i] = nil }
        for c in snap.clusters { for b in c.backends { live[b.id] = ObjectIdentifier(b.health) } }
        for id in snap.recycled where id < justFailedUntil.count {
            justFailedUntil[id] = 0
            metrics.clearBackend(id)
        }
        for id in pools.indices where !pools[id].isEmpty {
            // Gone, or its id now belongs to another backend (a reused id).
            pools[id].removeAll { up in
                guard live[id] != ObjectIdentifier(up.backend.health) else { return false }
                up.close()
                return true
            }
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
