import SluiceBalancing
import SluiceEventLoop

/// Moves the adaptive limits (`limits.adaptive`) of the backends this worker owns, every
/// `AdaptiveConcurrency.interval` (100 ms).
///
/// A backend is owned by worker `id % workers`, the same worker that runs its health checks:
/// ownership needs no coordination, follows snapshots the same way (rebuilt in `apply`), and
/// the work spreads over the workers. The control loop would be one thread for all backends,
/// but it also builds snapshots and answers the admin API, which may delay its timers longer
/// than a worker's loop does. A late tick costs nothing but a longer interval: the algorithm
/// divides by the real elapsed time.
///
/// Loop thread only. A tick costs a few atomics and a few floating-point operations per owned
/// backend; no tuner exists when no cluster is adaptive.
final class AdaptiveTuner: TimerTarget {
    var timerSlot = TimerSlot()
    unowned let worker: Worker
    /// The owned backends' limits and their `max_requests_per_backend`.
    let backends: [(limit: AdaptiveLimit, maximum: Int)]
    var stopped = false

    init(worker: Worker, backends: [(limit: AdaptiveLimit, maximum: Int)]) {
        self.worker = worker
        self.backends = backends
    }

    /// The adaptive backends of `snap` owned by `worker`; nil when there are none.
    static func make(for worker: Worker, _ snap: Snapshot) -> AdaptiveTuner? {
        let workers = max(1, snap.config.workers)
        var owned: [(limit: AdaptiveLimit, maximum: Int)] = []
        for c in snap.clusters where c.adaptive {
            for b in c.backends where b.id % workers == worker.index {
                owned.append((b.health.adaptive, c.maxRequestsPerBackend))
            }
        }
        guard !owned.isEmpty else { return nil }
        let t = AdaptiveTuner(worker: worker, backends: owned)
        worker.loop.arm(t, at: worker.loop.now &+ AdaptiveConcurrency.interval)
        return t
    }

    func timerFired(now: UInt64) {
        guard !stopped else { return }
        for b in backends { b.limit.tick(now: now, maximum: b.maximum) }
        worker.loop.arm(self, at: now &+ AdaptiveConcurrency.interval)
    }

    func stop() {
        stopped = true
        worker.loop.cancelTimer(self)
    }
}
