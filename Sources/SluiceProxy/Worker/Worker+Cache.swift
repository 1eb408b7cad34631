import SluiceCache

/// The workers' side of coalescing: which of this worker's connections wait on which fill,
/// and the notices that wake them as the fill's head, bytes and end arrive (DESIGN §3 "Cache").
///
/// A fill runs on one worker; its waiters may sit on any. A waiter sets its worker's bit in
/// the entry's `waitingWorkers` before it looks at the entry; the fill publishes bytes (or
/// its end) before it reads those bits, both sequentially consistent, so either the waiter
/// sees the news or the fill sees the waiter. A notice to another worker goes through its
/// inbox at most once until that worker ran it (`noticePending`). Loop thread.
extension Worker {
    @inline(__always) func workerBit(_ w: Int) -> UInt64 { 1 << UInt64(w % 64) }

    /// `s` waits on fill `e` (its exchange is `.coalescing`).
    func addCacheWaiter(_ s: ClientConnection, _ e: CacheEntry) {
        e.waitingWorkers.bitwiseOr(workerBit(index), ordering: .sequentiallyConsistent)
        cacheWaiters[ObjectIdentifier(e), default: []].append(s)
    }

    /// `s` no longer reads from `e` (its answer ended, or it went to a backend itself).
    func removeCacheWaiter(_ s: ClientConnection, _ e: CacheEntry) {
        let id = ObjectIdentifier(e)
        guard var list = cacheWaiters[id] else { return }
        list.removeAll { $0 === s }
        cacheWaiters[id] = list.isEmpty ? nil : list
    }

    /// The fill `e` moved (head, bytes, end): wake its waiters, here and on other workers.
    /// One atomic load when nobody waits.
    @inline(__always)
    func announce(_ e: CacheEntry) {
        let mask = e.waitingWorkers.load(ordering: .sequentiallyConsistent)
        guard mask != 0 else { return }
        announce(e, mask)
    }

    private func announce(_ e: CacheEntry, _ mask: UInt64) {
        for w in 0..<shared.inboxes.count where mask & workerBit(w) != 0 {
            if w == index {
                runCacheNotice(e)
            } else {
                let bit = UInt64(1) << UInt64(w % 64)
                let before = e.noticePending.bitwiseOr(bit, ordering: .sequentiallyConsistent).oldValue
                if before & bit == 0 { shared.inboxes[w].post(.cacheNotice(e)) }
            }
        }
    }

    /// Drives this worker's waiters of `e` (each copies what arrived, or ends).
    func runCacheNotice(_ e: CacheEntry) {
        guard let list = cacheWaiters[ObjectIdentifier(e)] else { return }
        for s in list { s.drive() }
    }

    /// A notice from the fill's worker (through the inbox).
    func receiveCacheNotice(_ e: CacheEntry) {
        e.noticePending.bitwiseAnd(~workerBit(index), ordering: .sequentiallyConsistent)
        runCacheNotice(e)
    }

    func countCache(_ wc: WorkerCluster?, _ r: CacheResult) {
        guard let wc else { return }
        if let i = wc.currentIndex {
            metrics.countCache(cluster: i, r)
        } else {
            metrics.countRetiredCache(cluster: wc.runtime.name, r)
        }
    }
}
