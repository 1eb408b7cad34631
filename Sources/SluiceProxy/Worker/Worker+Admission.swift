import DequeModule
import SluiceBalancing

/// Why a request was shed (the `reason` label of `sluice_shed_total`).
enum ShedReason: Int, CaseIterable {
    case queueFull, queueTimeout, overload, noBackend

    var label: String {
        switch self {
        case .queueFull: return "queue_full"
        case .queueTimeout: return "queue_timeout"
        case .overload: return "overload"
        case .noBackend: return "no_backend"
        }
    }
}

/// A cluster's waiting room on one worker (DESIGN §2 `limits`): the waiting sessions, oldest
/// first; what happens to them is `AdmissionRules` (bounded FIFO, CoDel).
struct AdmissionQueue {
    var waiters = Deque<ClientConnection>()
    var rules: AdmissionRules

    init(capacity: Int, target: UInt64) { rules = AdmissionRules(capacity: capacity, target: target) }
}

extension Worker {
    /// Parks `s` until a backend of `c` has a free slot; false when the queue is full.
    /// Loop thread only.
    func enqueue(_ s: ClientConnection, _ c: ClusterRuntime) -> Bool {
        guard c.index < queues.count, snapshot.clusters[c.index] === c else { return false }
        expireStanding(c)
        guard queues[c.index].rules.admits(waiting: queues[c.index].waiters.count) else { return false }
        s.queuedAt = loop.now
        queues[c.index].waiters.append(s)
        return true
    }

    /// Removes `s` from its queue (timeout, client gone).
    func dequeue(_ s: ClientConnection) {
        guard let c = s.cluster, c.index < queues.count else { return }
        if let k = queues[c.index].waiters.firstIndex(where: { $0 === s }) { queues[c.index].waiters.remove(at: k) }
        s.queuedAt = 0
    }

    /// A request of `c` released its backend: hand slots to waiters, oldest first.
    func slotFreed(_ c: ClusterRuntime) {
        guard c.index < queues.count, snapshot.clusters[c.index] === c, !queues[c.index].waiters.isEmpty, !dispatching else { return }
        dispatching = true
        defer { dispatching = false }
        expireStanding(c)
        while let s = queues[c.index].waiters.first {
            let next = queues[c.index].rules.next(stillWaiting: s.phase == .exchange && s.queuedAt != 0) {
                hasEligibleBackend(c, excluding: s.tried)
            }
            switch next {
            case .discard:
                queues[c.index].waiters.removeFirst()
                continue
            case .wait:
                return
            case .dispatch:
                queues[c.index].waiters.removeFirst()
                queues[c.index].rules.dispatched(sojourn: loop.now &- s.queuedAt, now: loop.now)
                s.queuedAt = 0
                s.connectToBackend()
                s.drive()
            }
        }
    }

    /// While the queue is standing, waiters older than `queue_target` are answered 503 now.
    func expireStanding(_ c: ClusterRuntime) {
        let now = loop.now
        let oldest = queues[c.index].waiters.first.map { now &- $0.queuedAt }
        queues[c.index].rules.roll(now: now, oldestAge: oldest)
        while let s = queues[c.index].waiters.first, queues[c.index].rules.shedsOldest(age: now &- s.queuedAt) {
            queues[c.index].waiters.removeFirst()
            s.queuedAt = 0
            s.shed(.overload)
            s.drive()  // send the 503 now: this session has no event of its own coming
        }
    }

    /// A new snapshot: waiters move to the queue of the cluster with the same name (their wait
    /// goes on), or get 503 when their cluster is gone; then free slots are handed out.
    func flushQueues() {
        let all = queues.flatMap { $0.waiters }
        queues = snapshot.clusters.map { AdmissionQueue(capacity: $0.perWorkerQueue, target: $0.config.limits?.queueTarget ?? 0) }
        for s in all where s.phase == .exchange && s.queuedAt != 0 {
            if let name = s.cluster?.name, let nc = snapshot.clusters.first(where: { $0.name == name }), nc.limited {
                s.cluster = nc
                s.tried.removeAll(keepingCapacity: true)
                queues[nc.index].waiters.append(s)
            } else {
                s.queuedAt = 0
                s.connectToBackend()
                s.drive()
            }
        }
        for c in snapshot.clusters where c.limited { slotFreed(c) }
    }

    /// Counts a refused request by cluster index (by name if a reload retired the cluster).
    func countShed(_ c: ClusterRuntime?, _ reason: ShedReason) {
        guard let c else { return }
        if c.index < snapshot.clusters.count && snapshot.clusters[c.index] === c {
            metrics.countShed(cluster: c.index, reason)
        } else {
            metrics.countRetiredShed(cluster: c.name, reason)
        }
    }
}
