/// A request's slot at its backend under the cluster's process-wide `limits` (DESIGN §3
/// "Priorities under overload"): taken with one atomic add after the pick, given back when
/// the exchange is done with the backend, handing it to the best waiter of any worker. The
/// queue itself is `Worker+Admission` and `ClusterAdmission`. Loop thread.
extension ClientConnection {
    /// Takes a slot of `b`'s process-wide limit for this request's lane; false when another
    /// worker took the last one between the pick's look and this add.
    @inline(__always)
    func takeSlot(_ c: ClusterRuntime, _ b: BackendRuntime) -> Bool {
        let n = b.health.inFlight.wrappingAdd(1, ordering: .sequentiallyConsistent).newValue
        if n > c.capacity(of: b, lane: lane) {
            giveBackSlot(c, b)
            return false
        }
        holdsSlot = true
        return true
    }

    /// Gives a slot of `b` back; when the cluster has waiters, the best of them (on any worker)
    /// is woken to take it.
    @inline(__always)
    func giveBackSlot(_ c: ClusterRuntime, _ b: BackendRuntime) {
        b.health.inFlight.wrappingSubtract(1, ordering: .sequentiallyConsistent)
        if let adm = c.admission, adm.waiting.load(ordering: .sequentiallyConsistent) > 0 { worker.slotFreed(adm, c, b) }
    }

    /// The backend this exchange was counted against (least_request, limits) is done with it;
    /// a waiter of the cluster may take the slot. A queued exchange leaves the queue.
    @inline(__always)
    func releaseBackendSlot() {
        if countedBackend >= 0 {
            worker.active[countedBackend] -= 1
            countedBackend = -1
            if holdsSlot, let c = cluster?.runtime, let b = backend {
                holdsSlot = false
                giveBackSlot(c, b)
            }
        }
        if queueTicket != 0 { worker.dequeue(self, shedNow: false) }
    }

    /// Refuses the request for lack of capacity (the admission queue sheds it): 503 with
    /// Retry-After, counted by reason.
    func shed(_ reason: ShedReason) {
        run(exchange.shed(reason))
    }
}
