/// Overload control for a request queue, after CoDel as Facebook's "Fail at Scale" uses it:
/// when during the last interval no request left the queue faster than `target`, the queue
/// is standing (it no longer absorbs a burst, it only adds delay), and waiters older than
/// `target` are shed at once instead of at the long `queue_timeout`.
///
/// Pure value over a caller-supplied monotonic clock (nanoseconds). `target == 0`: plain FIFO.
public struct QueueCoDel: Sendable, Equatable {
    public let target: UInt64
    public let interval: UInt64
    private var intervalEnd: UInt64 = 0
    private var minSojourn: UInt64 = .max
    public private(set) var standing = false

    public init(target: UInt64, interval: UInt64 = 100_000_000) {
        self.target = target
        self.interval = interval
    }

    /// Records a request leaving the queue after `sojourn` ns.
    public mutating func dequeued(sojourn: UInt64, now: UInt64) {
        roll(now, oldestWaiting: nil)
        minSojourn = min(minSojourn, sojourn)
    }

    /// Advances the interval; `oldestWaiting` (ns) is the age of the oldest waiter, if any.
    public mutating func roll(_ now: UInt64, oldestWaiting: UInt64?) {
        guard target > 0 else { return }
        if intervalEnd == 0 { intervalEnd = now &+ interval }
        guard now >= intervalEnd else { return }
        if minSojourn != .max {
            standing = minSojourn > target
        } else {
            // Nothing left the queue for a whole interval: standing if someone has waited past target.
            standing = (oldestWaiting ?? 0) > target
        }
        minSojourn = .max
        intervalEnd = now &+ interval
    }

    /// Whether a waiter of this age must be shed now.
    public func shouldShed(age: UInt64) -> Bool {
        target > 0 && standing && age > target
    }
}

/// The decisions of a cluster's waiting room on one worker (DESIGN §2 `limits`): FIFO,
/// bounded by `capacity`, shed by CoDel when standing. The waiters themselves (sessions)
/// stay with the proxy; this says whether one may wait, whether the oldest must be shed,
/// and what to do with the oldest when a slot frees.
///
/// Pure value over the caller's monotonic clock (ns). Loop thread only.
package struct AdmissionRules: Sendable, Equatable {
    /// What to do with the oldest waiter when a backend slot frees.
    package enum Next: Sendable, Equatable {
        /// It left the queue already (answered, timed out, client gone): drop it, look at the next.
        case discard
        /// No backend could take it: everyone keeps waiting.
        case wait
        /// Hand it the slot.
        case dispatch
    }

    /// Waiters at most (`max_queue` split per worker).
    package let capacity: Int
    package private(set) var codel: QueueCoDel

    package init(capacity: Int, target: UInt64) {
        self.capacity = capacity
        codel = QueueCoDel(target: target)
    }

    /// Advances CoDel before the queue is looked at; `oldestAge` is the head waiter's wait.
    @inline(__always)
    package mutating func roll(now: UInt64, oldestAge: UInt64?) { codel.roll(now, oldestWaiting: oldestAge) }

    /// Whether the oldest waiter, waiting for `age` ns, is shed now (standing queue).
    @inline(__always)
    package func shedsOldest(age: UInt64) -> Bool { codel.shouldShed(age: age) }

    /// Whether a new request may wait while `waiting` already do.
    @inline(__always)
    package func admits(waiting: Int) -> Bool { waiting < capacity }

    /// The oldest waiter's fate when a slot frees; `backendFree` is asked only for a live one.
    @inline(__always)
    package func next(stillWaiting: Bool, backendFree: () -> Bool) -> Next {
        guard stillWaiting else { return .discard }
        return backendFree() ? .dispatch : .wait
    }

    /// The oldest waiter left for a backend after `sojourn` ns (CoDel's measure).
    @inline(__always)
    package mutating func dispatched(sojourn: UInt64, now: UInt64) { codel.dequeued(sojourn: sojourn, now: now) }
}
