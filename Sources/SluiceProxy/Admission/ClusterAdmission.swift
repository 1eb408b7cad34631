import SluiceBalancing
import Synchronization

/// A cluster's waiting room for the whole process (DESIGN §3 "Priorities under overload"):
/// the `WaitQueue` of every worker's waiters and the `DrainEstimate` behind `Retry-After`,
/// under one lock, plus lock-free counts of waiters per lane.
///
/// Threads: any worker. The lock is taken only while the cluster is full: to wait, to leave
/// the queue, to hand a freed slot to a waiter, to compute a 503's `Retry-After`. A request
/// that finds a free slot and no waiter ahead of it never takes it (two atomic loads).
///
/// One per cluster name, kept across reloads by `AdmissionRegistry` (the queue goes on; a
/// reload changes its capacity and target in place).
final class ClusterAdmission: Sendable {
    let name: String
    private let state: Locked<State>
    /// Waiters per lane (critical, normal, sheddable), mirrored from the queue under the lock.
    private let lane0 = Atomic<Int>(0)
    private let lane1 = Atomic<Int>(0)
    private let lane2 = Atomic<Int>(0)
    /// All waiters: a releasing request looks here (sequentially consistent) after it gave
    /// its slot back, and a request that is about to wait adds itself before looking for a
    /// slot once more; one of the two always sees the other, so no waiter sleeps beside a
    /// free slot.
    let waiting = Atomic<Int>(0)

    struct State: Sendable {
        var queue: WaitQueue
        var drain: DrainEstimate
    }

    init(name: String, capacity: Int, target: UInt64, now: UInt64) {
        self.name = name
        state = Locked(State(queue: WaitQueue(capacity: capacity, target: target, now: now), drain: DrainEstimate(now: now)))
    }

    /// A reload changed `max_queue` or `queue_target`: waiters stay.
    func configure(capacity: Int, target: UInt64) {
        state.withLock {
            $0.queue.capacity = capacity
            $0.queue.target = target
        }
    }

    /// Whether a newcomer of `lane` must queue behind waiters at least as important.
    @inline(__always)
    func hasWaiters(atOrAbove lane: Int) -> Bool {
        if waiting.load(ordering: .sequentiallyConsistent) == 0 { return false }
        if lane0.load(ordering: .relaxed) > 0 { return true }
        if lane >= 1 && lane1.load(ordering: .relaxed) > 0 { return true }
        return lane >= 2 && lane2.load(ordering: .relaxed) > 0
    }

    /// Queues `w`; waiters the standing rule sheds now are appended to `shed` (their owners
    /// answer them 503), and one a full queue displaces is in the result.
    func enqueue(_ w: Waiter, now: UInt64, shed: inout [Waiter]) -> WaitQueue.Admission {
        state.withLock { s in
            expire(&s, now: now, into: &shed)
            let result = s.queue.enqueue(w, now: now)
            switch result {
            case .queued: break
            case .queuedDisplacing:
                s.drain.shedOne(now: now)
            case .full:
                s.drain.shedOne(now: now)
            }
            publish(s.queue)
            return result
        }
    }

    /// Takes the waiter holding `ticket` out (its client left, its timer fired, it found a
    /// slot after all); false when it is no longer queued (a slot or a shed is on its way).
    /// `shedNow`: it leaves to be answered 503 (counted for `Retry-After`).
    func remove(ticket: UInt64, lane: Int, now: UInt64, shedNow: Bool) -> Bool {
        state.withLock { s in
            let removed = s.queue.remove(ticket: ticket, lane: lane, now: now)
            if shedNow { s.drain.shedOne(now: now) }
            publish(s.queue)
            return removed
        }
    }

    /// The waiter a freed slot goes to (lanes up to `lastLane`), out of the queue; waiters the
    /// standing rule sheds now are appended to `shed`.
    func next(now: UInt64, lastLane: Int, shed: inout [Waiter]) -> Waiter? {
        state.withLock { s in
            expire(&s, now: now, into: &shed)
            let w = s.queue.popNext(now: now, lastLane: lastLane)
            if w != nil { s.drain.servedOne(now: now) }
            publish(s.queue)
            return w
        }
    }

    /// A waiter that was handed a slot lost it to a race: back to its place by age.
    func putBack(_ w: Waiter, now: UInt64) {
        state.withLock { s in
            s.queue.putBack(w, now: now)
            publish(s.queue)
        }
    }

    /// Seconds for the `Retry-After` of a 503 this cluster sends now (`u1`, `u2` uniform in [0, 1)).
    func retryAfter(now: UInt64, u1: Double, u2: Double) -> Int {
        state.withLock { s in RetryAfter.seconds(queued: s.queue.count, s.drain, now: now, u1: u1, u2: u2) }
    }

    /// Waiters now and whether the queue stands (for /status and metrics).
    func snapshot(now: UInt64) -> (waiting: Int, standing: Bool) {
        state.withLock { s in (s.queue.count, s.queue.standing(now: now)) }
    }

    private func expire(_ s: inout State, now: UInt64, into shed: inout [Waiter]) {
        while let w = s.queue.popExpired(now: now) {
            shed.append(w)
            s.drain.shedOne(now: now)
        }
    }

    private func publish(_ q: WaitQueue) {
        lane0.store(q.count(lane: 0), ordering: .relaxed)
        lane1.store(q.count(lane: 1), ordering: .relaxed)
        lane2.store(q.count(lane: 2), ordering: .relaxed)
        waiting.store(q.count, ordering: .sequentiallyConsistent)
    }
}

/// The `ClusterAdmission` of every cluster name that has `limits`, kept across reloads.
/// Control thread builds snapshots with it; the lock is taken only while building.
final class AdmissionRegistry: Sendable {
    private let byName = Locked<[String: ClusterAdmission]>([:])

    /// The waiting room of cluster `name`, made or reconfigured for this snapshot.
    func admission(for name: String, capacity: Int, target: UInt64, now: UInt64) -> ClusterAdmission {
        byName.withLock { m in
            if let a = m[name] {
                a.configure(capacity: capacity, target: target)
                return a
            }
            let a = ClusterAdmission(name: name, capacity: capacity, target: target, now: now)
            m[name] = a
            return a
        }
    }
}
