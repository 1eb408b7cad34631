import DequeModule

/// One request waiting for a backend slot: who it is (an opaque ticket the proxy can route
/// back to its connection on any worker), its priority lane and when it started waiting.
package struct Waiter: Sendable, Equatable {
    package let ticket: UInt64
    /// 0 is the most important (critical), `WaitQueue.lanes - 1` the least (sheddable).
    package let lane: Int
    /// Monotonic ns when it joined the queue (kept when it is put back after a lost race).
    package let since: UInt64

    package init(ticket: UInt64, lane: Int, since: UInt64) {
        self.ticket = ticket
        self.lane = lane
        self.since = since
    }
}

/// A cluster's waiting room for the whole process (DESIGN §2 `limits`, §3 "Priorities under
/// overload"): who is served when a slot frees, who is refused or shed. Pure value over the
/// caller's monotonic clock (ns); the proxy keeps it under one lock per cluster, taken only
/// while the cluster is full.
///
/// The rules, in order:
/// - Lanes by priority: a waiter of a more important lane is always served before a less
///   important one (critical, then normal, then sheddable).
/// - Within a lane, oldest first; newest first while the queue *stands* (adaptive LIFO):
///   standing means it has not been empty at any moment of the last `standingAfter` (100 ms).
/// - While it stands, a waiter older than `target` (`queue_target`) is shed at once, the
///   least important lane first; critical waiters are not shed by this rule (only by
///   `queue_timeout`, which their own connection's timer enforces). `target == 0`: plain
///   FIFO, never standing.
/// - At `capacity` (`max_queue`) a newcomer displaces the oldest waiter of a less important
///   lane than its own; if there is none it is refused.
package struct WaitQueue: Sendable {
    package static let lanes = 3
    /// How long the queue must stay non-empty to count as standing.
    package static let standingAfter: UInt64 = 100_000_000

    package var capacity: Int
    package var target: UInt64
    private var waiting: [Deque<Waiter>]
    package private(set) var count = 0
    /// The last moment the queue was empty (monotonic ns).
    package private(set) var lastEmpty: UInt64

    package init(capacity: Int, target: UInt64, now: UInt64) {
        self.capacity = capacity
        self.target = target
        waiting = Array(repeating: Deque(), count: Self.lanes)
        lastEmpty = now
    }

    /// What became of a newcomer.
    package enum Admission: Sendable, Equatable {
        case queued
        /// Queued in place of this less important waiter, which must be answered 503 now.
        case queuedDisplacing(Waiter)
        /// The queue is full of waiters at least as important: refuse (503).
        case full
    }

    /// Waiters in `lane`.
    @inline(__always)
    package func count(lane: Int) -> Int { waiting[lane].count }

    /// Whether the queue has been non-empty for the whole of the last `standingAfter`.
    @inline(__always)
    package func standing(now: UInt64) -> Bool {
        target > 0 && count > 0 && now &- lastEmpty >= Self.standingAfter
    }

    /// Adds `w` at the back of its lane, or says why not.
    package mutating func enqueue(_ w: Waiter, now: UInt64) -> Admission {
        if count < capacity {
            append(w, now: now)
            return .queued
        }
        var lane = Self.lanes - 1
        while lane > w.lane {
            if let victim = waiting[lane].popFirst() {
                count -= 1
                append(w, now: now)
                return .queuedDisplacing(victim)
            }
            lane -= 1
        }
        return .full
    }

    /// Puts back a waiter that was handed a slot but lost it to a race, at its place by age.
    package mutating func putBack(_ w: Waiter, now: UInt64) {
        if count == 0 { lastEmpty = now }
        var k = waiting[w.lane].count
        while k > 0 && waiting[w.lane][k - 1].since > w.since { k -= 1 }
        waiting[w.lane].insert(w, at: k)
        count += 1
    }

    /// Removes the waiter holding `ticket` from `lane` (its client left or its timer fired);
    /// false when it is no longer queued (a slot or a shed is already on its way to it).
    package mutating func remove(ticket: UInt64, lane: Int, now: UInt64) -> Bool {
        guard let k = waiting[lane].firstIndex(where: { $0.ticket == ticket }) else { return false }
        waiting[lane].remove(at: k)
        count -= 1
        if count == 0 { lastEmpty = now }
        return true
    }

    /// The waiter to serve now, taken out of the queue: the most important lane first, up to
    /// `lastLane` (a slot in the critical reserve may go to lane 0 only); within the lane
    /// oldest first, newest first while the queue stands.
    package mutating func popNext(now: UInt64, lastLane: Int = lanes - 1) -> Waiter? {
        let lifo = standing(now: now)
        for lane in 0...min(lastLane, Self.lanes - 1) where !waiting[lane].isEmpty {
            let w = lifo ? waiting[lane].removeLast() : waiting[lane].removeFirst()
            count -= 1
            if count == 0 { lastEmpty = now }
            return w
        }
        return nil
    }

    /// The next waiter the standing rule sheds now, taken out of the queue, or nil: while the
    /// queue stands, the oldest non-critical waiter older than `target`, least important lane
    /// first. Call until nil.
    package mutating func popExpired(now: UInt64) -> Waiter? {
        guard standing(now: now) else { return nil }
        var lane = Self.lanes - 1
        while lane > 0 {
            if let w = waiting[lane].first, now &- w.since > target {
                waiting[lane].removeFirst()
                count -= 1
                if count == 0 { lastEmpty = now }
                return w
            }
            lane -= 1
        }
        return nil
    }

    /// Until now the queue was empty: `lastEmpty` is this moment.
    private mutating func append(_ w: Waiter, now: UInt64) {
        if count == 0 { lastEmpty = now }
        waiting[w.lane].append(w)
        count += 1
    }
}
