/// How fast a cluster's queue drains and how many were just turned away: what a computed
/// `Retry-After` (DESIGN §3) is made of. Pure value over the caller's monotonic clock (ns);
/// the proxy keeps it beside the cluster's `WaitQueue`, under the same lock.
///
/// Rates are measured over windows of `window` (1 s): the last complete window's rate, or
/// the current one's once it has run for a fifth of a window (a spike that just began has
/// no complete window yet).
package struct DrainEstimate: Sendable, Equatable {
    package static let window: UInt64 = 1_000_000_000

    private var windowStart: UInt64
    private var served = 0
    private var shed = 0
    private var lastServedPerSecond: Double = -1
    private var lastShedPerSecond: Double = 0

    package init(now: UInt64) { windowStart = now }

    /// A waiter left the queue for a backend.
    package mutating func servedOne(now: UInt64) {
        roll(now)
        served += 1
    }

    /// A request was refused or shed for lack of capacity (it will come back).
    package mutating func shedOne(now: UInt64) {
        roll(now)
        shed += 1
    }

    /// Waiters leaving for a backend per second, or nil before anything was measured.
    package func servedPerSecond(now: UInt64) -> Double? {
        let elapsed = now &- windowStart
        if elapsed >= Self.window / 5 { return Double(served) * 1e9 / Double(elapsed) }
        return lastServedPerSecond >= 0 ? lastServedPerSecond : nil
    }

    /// Requests turned away per second (the same windows).
    package func shedPerSecond(now: UInt64) -> Double {
        let elapsed = now &- windowStart
        if elapsed >= Self.window / 5 { return Double(shed) * 1e9 / Double(elapsed) }
        return lastShedPerSecond
    }

    private mutating func roll(_ now: UInt64) {
        let elapsed = now &- windowStart
        guard elapsed >= Self.window else { return }
        if elapsed > 2 * Self.window {
            // Nothing happened for a while (no queue, no refusal): the rates of a window that
            // long are diluted by the calm, not a measurement of the storm that begins now.
            lastServedPerSecond = -1
            lastShedPerSecond = 0
        } else {
            // A window with nothing served says "nothing drained": that is a measurement too.
            lastServedPerSecond = Double(served) * 1e9 / Double(elapsed)
            lastShedPerSecond = Double(shed) * 1e9 / Double(elapsed)
        }
        served = 0
        shed = 0
        windowStart = now
    }
}

/// The `Retry-After` Sluice writes on its own 503s (DESIGN §3): the time the backlog needs
/// to drain at the measured rate, jittered ±20% so that shed clients do not return together,
/// between 1 and 60 seconds.
///
/// The backlog counts the waiters and the clients turned away during the last second: they
/// are waiting too, outside, and will be back; counting only the queue (bounded at a fraction
/// of a second of service by `queue_target`) would tell every shed client "1 s" during a storm
/// of any size.
package enum RetryAfter {
    package static let minimum = 1
    package static let maximum = 60

    /// Seconds for a 503: `queued` waiters now, `estimate` of the drain and shed rates; `u1`,
    /// `u2` uniform in [0, 1) (the jitter, and the rounding of the jittered value to a whole
    /// second, up with the probability of its fraction, so the mean stays the computed time).
    /// Nothing measured yet: the minimum, jittered; nothing draining: the maximum.
    package static func seconds(queued: Int, _ estimate: DrainEstimate, now: UInt64, u1: Double, u2: Double) -> Int {
        let backlog = Double(queued) + estimate.shedPerSecond(now: now)
        let base: Double
        if let rate = estimate.servedPerSecond(now: now) {
            base = rate > 0 ? backlog / rate : Double(maximum)
        } else {
            base = Double(minimum)
        }
        return jittered(base, u1: u1, u2: u2)
    }

    /// `base` seconds × [0.8, 1.2), rounded stochastically, clamped to [1, 60].
    package static func jittered(_ base: Double, u1: Double, u2: Double) -> Int {
        let t = max(Double(minimum), min(Double(maximum), base)) * (0.8 + 0.4 * u1)
        let whole = t.rounded(.down)
        let n = Int(whole) + (u2 < t - whole ? 1 : 0)
        return max(minimum, min(maximum, n))
    }
}
