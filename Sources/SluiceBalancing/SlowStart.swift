/// Slow start: a backend that (re)joins ramps from 10% to its full weight over `duration`,
/// so a cold server (empty caches, JIT warming) is not handed its whole share at once.
public enum SlowStart {
    /// Weights in per-worker balancing tables are configured weights times `scale`, so a ramp
    /// is fractional: a backend of weight 1 starts at 10 against 100 for its full peers.
    public static let scale = 100

    /// The weight, in units of 1/`scale`, to use `elapsed` ns after joining; `duration` 0
    /// means off (`weight × scale`). Never below 1 for a positive weight (1% of weight 1: a
    /// joining backend still gets some traffic).
    @inline(__always)
    public static func scaledWeight(_ weight: Int, elapsed: UInt64, duration: UInt64) -> Int {
        let full = weight * scale
        guard duration > 0, weight > 0, elapsed < duration else { return full }
        let fraction = 0.1 + 0.9 * Double(elapsed) / Double(duration)
        return max(1, Int((Double(full) * fraction).rounded()))
    }
}

extension SlowStart {
    /// How often a worker re-applies a ramp (a health change applies at once).
    package static let period: UInt64 = 100_000_000

    /// `weight` under a slow start of `duration` at `now`, in units of 1/`scale`, for a member
    /// that (re)joined rotation at `joinedAt` (the later of joining and the end of an
    /// ejection; 0: in rotation since the process started, so at full weight).
    @inline(__always)
    package static func rampedWeight(_ weight: Int, joinedAt: UInt64, now: UInt64, duration: UInt64) -> Int {
        guard duration > 0, joinedAt > 0 else { return weight * scale }
        return scaledWeight(weight, elapsed: now > joinedAt ? now - joinedAt : 0, duration: duration)
    }
}

/// When a worker re-applies one cluster's slow-start ramp to its pickers: every
/// `SlowStart.period`, or at once when the health generation moved (a backend rejoined).
///
/// Loop thread only; one comparison per pick.
package struct SlowStartRamp: Sendable, Equatable {
    private var checkedAt: UInt64 = 0
    private var generation: UInt64 = .max

    package init() {}

    /// Whether the ramp is due at `now` under health generation `g`; if so, it counts as applied.
    @inline(__always)
    package mutating func due(now: UInt64, generation g: UInt64) -> Bool {
        guard now &- checkedAt >= SlowStart.period || generation != g else { return false }
        checkedAt = now
        generation = g
        return true
    }
}
