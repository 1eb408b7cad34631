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
    /// Parks `s` until a backend of `wc` has a free slot; false when the queue is full or the
    /// cluster is retired (a newer snapshot's cluster takes the waiters). Loop thread only.
    func enqueue(_ s: ClientConnection, _ wc: WorkerCluster) -> Bool {
        guard !wc.retired else { return false }
        expireStanding(wc)
        guard wc.queue.rules.admits(waiting: wc.queue.waiters.count) else { return false }
        s.queuedAt = loop.now
        wc.queue.waiters.append(s)
        return true
    }

    /// Removes `s` from its cluster's queue (timeout, client gone).
    func dequeue(_ s: ClientConnection) {
        guard let wc = s.cluster else { return }
        if let k = wc.queue.waiters.firstIndex(where: { $0 === s }) { wc.queue.waiters.remove(at: k) }
        s.queuedAt = 0
    }

    /// A request of `wc` released its backend: hand slots to waiters, oldest first. A retired
    /// cluster's waiters moved to the current cluster of the same name (`moveWaiters`), and
    /// the slot (counted by backend id) may be one of theirs: they are offered it.
    func slotFreed(_ wc: WorkerCluster) {
        if wc.retired {
            if let nc = clusters.first(where: { $0.runtime.name == wc.runtime.name }) { slotFreed(nc) }
            return
        }
        guard !wc.queue.waiters.isEmpty, !dispatching else { return }
        dispatching = true
        defer { dispatching = false }
        expireStanding(wc)
        while let s = wc.queue.waiters.first {
            let next = wc.queue.rules.next(stillWaiting: s.phase == .exchange && s.queuedAt != 0) {
                hasEligibleBackend(wc, excluding: s.tried)
            }
            switch next {
            case .discard:
                wc.queue.waiters.removeFirst()
                continue
            case .wait:
                return
            case .dispatch:
                wc.queue.waiters.removeFirst()
                wc.queue.rules.dispatched(sojourn: loop.now &- s.queuedAt, now: loop.now)
                s.queuedAt = 0
                s.connectToBackend()
                s.drive()
            }
        }
    }

    /// While the queue is standing, waiters older than `queue_target` are answered 503 now.
    func expireStanding(_ wc: WorkerCluster) {
        let now = loop.now
        let oldest = wc.queue.waiters.first.map { now &- $0.queuedAt }
        wc.queue.rules.roll(now: now, oldestAge: oldest)
        while let s = wc.queue.waiters.first, wc.queue.rules.shedsOldest(age: now &- s.queuedAt) {
            wc.queue.waiters.removeFirst()
            s.queuedAt = 0
            s.shed(.overload)
            s.drive()  // send the 503 now: this session has no event of its own coming
        }
    }

    /// A new snapshot: the waiters of the `previous` (now retired) clusters move to the queue
    /// of the current cluster with the same name (their wait goes on), or get a backend of
    /// their own cluster now when it is gone or no longer limited; then free slots are handed out.
    func moveWaiters(from previous: [WorkerCluster]) {
        var all: [ClientConnection] = []
        for wc in previous {
            all.append(contentsOf: wc.queue.waiters)
            wc.queue.waiters.removeAll()
        }
        for s in all where s.phase == .exchange && s.queuedAt != 0 {
            if let name = s.cluster?.runtime.name, let nc = clusters.first(where: { $0.runtime.name == name }), nc.runtime.limited {
                s.cluster = nc
                s.tried.removeAll(keepingCapacity: true)
                nc.queue.waiters.append(s)
            } else {
                s.queuedAt = 0
                s.connectToBackend()
                s.drive()
            }
        }
        for wc in clusters where wc.runtime.limited { slotFreed(wc) }
    }

    /// Counts a refused request by cluster index (by name if a reload retired the cluster).
    func countShed(_ wc: WorkerCluster?, _ reason: ShedReason) {
        guard let wc else { return }
        if let i = wc.currentIndex {
            metrics.countShed(cluster: i, reason)
        } else {
            metrics.countRetiredShed(cluster: wc.runtime.name, reason)
        }
    }
}
