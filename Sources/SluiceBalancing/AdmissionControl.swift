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
