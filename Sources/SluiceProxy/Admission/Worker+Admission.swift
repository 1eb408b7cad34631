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

/// What `Worker.enqueue` did with a request that found no free slot.
enum EnqueueResult {
    /// It waits; a freed slot or a shed will come to it.
    case waiting
    /// The queue is full of waiters at least as important: 503.
    case refused
    /// A slot freed while it joined, and it is the waiter to take it: pick again now.
    case slotFree
}

/// The worker's side of the process-wide waiting rooms (`ClusterAdmission`, DESIGN §3
/// "Priorities under overload"): its connections join and leave a cluster's queue by ticket;
/// a slot freed on this worker wakes the best waiter of any worker, through that worker's
/// `WorkerInbox`; messages for this worker's waiters run in turn (`dispatching`), never
/// nested. Loop thread only.
extension Worker {
    /// A ticket names one wait of one connection on this worker: worker index, a per-connection
    /// sequence number and the descriptor (so a stale message never reaches a newer wait).
    func ticket(for s: ClientConnection) -> UInt64 {
        s.queueSeq = s.queueSeq &+ 1 == 0x100_0000 ? 1 : s.queueSeq &+ 1
        return UInt64(index) << 56 | UInt64(s.queueSeq) << 32 | UInt64(UInt32(bitPattern: s.fd))
    }

    /// Parks `s` in the queue of `wc` (at its old place when `putBack`: it was woken but lost
    /// the slot to a race). When `mayTakeFreeSlot` and a slot freed meanwhile (a release that
    /// ran between this request's pick and its joining), the best waiter is woken for it,
    /// which may be `s` itself (`.slotFree`).
    func enqueue(_ s: ClientConnection, _ wc: WorkerCluster, putBack: Bool, mayTakeFreeSlot: Bool) -> EnqueueResult {
        guard let adm = wc.runtime.admission, !draining else { return .refused }
        let now = loop.now
        if !putBack || s.queuedAt == 0 { s.queuedAt = now }
        let t = ticket(for: s)
        let w = Waiter(ticket: t, lane: s.lane, since: s.queuedAt)
        shedScratch.removeAll(keepingCapacity: true)
        if putBack {
            adm.putBack(w, now: now)
        } else {
            switch adm.enqueue(w, now: now, shed: &shedScratch) {
            case .queued: break
            case .queuedDisplacing(let victim): send(.shed(ticket: victim.ticket, reason: .queueFull), to: victim)
            case .full:
                s.queuedAt = 0
                deliverSheds()
                return .refused
            }
        }
        s.queueTicket = t
        deliverSheds()
        if mayTakeFreeSlot, hasEligibleBackend(wc, excluding: s.tried, lane: s.lane) {
            if let best = adm.next(now: now, lastLane: WaitQueue.lanes - 1, shed: &shedScratch) {
                if best.ticket == t {
                    s.queueTicket = 0
                    deliverSheds()
                    return .slotFree
                }
                send(.wake(ticket: best.ticket, admission: adm), to: best)
            }
            deliverSheds()
        }
        return .waiting
    }

    /// Takes `s` out of its cluster's queue (its client left, its timer fired, it is answered).
    /// `shedNow`: it is about to be answered 503 (counted for `Retry-After`).
    func dequeue(_ s: ClientConnection, shedNow: Bool) {
        let t = s.queueTicket
        s.queueTicket = 0
        s.queuedAt = 0
        guard t != 0, let adm = s.cluster?.runtime.admission else { return }
        // False: a wake or a shed for it is already on its way; the wake is passed on on arrival.
        _ = adm.remove(ticket: t, lane: s.lane, now: loop.now, shedNow: shedNow)
    }

    /// A request gave back a slot of backend `b` of `c` while the cluster has waiters: the best
    /// waiter that may use it (only a critical one when `b` is into its reserve) is woken.
    func slotFreed(_ adm: ClusterAdmission, _ c: ClusterRuntime, _ b: BackendRuntime) {
        let used = b.health.inFlight.load(ordering: .sequentiallyConsistent)
        wakeNext(adm, lastLane: used < c.capacity(of: b, lane: 1) ? WaitQueue.lanes - 1 : 0)
    }

    /// Wakes the best waiter of `adm` up to `lastLane`, on whichever worker it waits.
    func wakeNext(_ adm: ClusterAdmission, lastLane: Int) {
        shedScratch.removeAll(keepingCapacity: true)
        if let w = adm.next(now: loop.now, lastLane: lastLane, shed: &shedScratch) {
            send(.wake(ticket: w.ticket, admission: adm), to: w)
        }
        deliverSheds()
    }

    /// Sends the standing rule's sheds collected in `shedScratch` to their owners.
    func deliverSheds() {
        guard !shedScratch.isEmpty else { return }
        for w in shedScratch { send(.shed(ticket: w.ticket, reason: .overload), to: w) }
        shedScratch.removeAll(keepingCapacity: true)
    }

    /// Delivers `m` about waiter `w` to its worker: this one's run in turn, after what runs now.
    func send(_ m: AdmissionMessage, to w: Waiter) {
        let owner = Int(w.ticket >> 56)
        if owner == index {
            localMessages.append(m)
            runAdmissionMessages()
        } else if owner < shared.inboxes.count {
            shared.inboxes[owner].post(m)
        }
    }

    /// What other workers sent arrived (the inbox's wake-up). Loop thread.
    func drainInbox() {
        inbox.take(into: &inboxScratch)
        for m in inboxScratch { localMessages.append(m) }
        inboxScratch.removeAll(keepingCapacity: true)
        runAdmissionMessages()
    }

    /// Runs queued admission messages one at a time; a message sent while one runs waits its turn.
    func runAdmissionMessages() {
        guard !dispatching else { return }
        dispatching = true
        defer { dispatching = false }
        while let m = localMessages.popFirst() {
            switch m {
            case .wake(let t, let adm):
                guard let s = waiter(t) else {
                    wakeNext(adm, lastLane: WaitQueue.lanes - 1)  // it left meanwhile: the slot goes on
                    continue
                }
                s.queueTicket = 0
                rebindIfRetired(s)
                s.connectToBackend()
                s.drive()
            case .shed(let t, let reason):
                guard let s = waiter(t) else { continue }
                s.queueTicket = 0
                s.queuedAt = 0
                s.shed(reason)
                s.drive()  // send the 503 now: this session has no event of its own coming
            case .cacheNotice(let e):
                receiveCacheNotice(e)
            }
        }
    }

    /// The connection still waiting under ticket `t`, or nil.
    func waiter(_ t: UInt64) -> ClientConnection? {
        let fd = Int(UInt32(truncatingIfNeeded: t))
        guard fd < sessions.count, let s = sessions[fd], s.queueTicket == t, s.exchange.state == .queued else { return nil }
        return s
    }

    /// A waiter that joined under an older snapshot takes the current cluster of the same name
    /// (its wait went on in the same process-wide queue), when it is still limited.
    func rebindIfRetired(_ s: ClientConnection) {
        guard let wc = s.cluster, wc.retired,
            let nc = clusters.first(where: { $0.runtime.name == wc.runtime.name }), nc.runtime.limited
        else { return }
        s.cluster = nc
        s.tried.removeAll(keepingCapacity: true)
    }

    /// A new snapshot: waiters stay in their cluster's process-wide queue, except those whose
    /// cluster is gone or no longer limited, which get a backend of their own cluster now.
    func moveWaiters() {
        for case let s? in sessions where s.queueTicket != 0 && s.exchange.state == .queued {
            guard let wc = s.cluster, wc.retired else { continue }
            if let nc = clusters.first(where: { $0.runtime.name == wc.runtime.name }), nc.runtime.limited { continue }
            dequeue(s, shedNow: false)
            s.connectToBackend()
            s.drive()
        }
    }

    /// `Retry-After` seconds for a 503 of `wc` (DESIGN §3): the drain time of its queue, or,
    /// for a cluster without limits (no backend available), about one health-check interval.
    func retryAfter(_ wc: WorkerCluster?, _ reason: ShedReason) -> Int {
        let u1 = unitRandom()
        let u2 = unitRandom()
        if let adm = wc?.runtime.admission { return adm.retryAfter(now: loop.now, u1: u1, u2: u2) }
        let interval = Double(wc?.runtime.config.healthCheck?.interval ?? 1_000_000_000) / 1e9
        return RetryAfter.jittered(interval, u1: u1, u2: u2)
    }

    /// Uniform in [0, 1) from the worker's generator.
    func unitRandom() -> Double { Double(random.next() >> 11) / Double(1 << 53) }

    /// Counts a refused request by cluster index (by name if a reload retired the cluster).
    func countShed(_ wc: WorkerCluster?, _ reason: ShedReason, lane: Int) {
        guard let wc else { return }
        if let i = wc.currentIndex {
            metrics.countShed(cluster: i, reason, lane: lane)
        } else {
            metrics.countRetiredShed(cluster: wc.runtime.name, reason, lane: lane)
        }
    }
}
