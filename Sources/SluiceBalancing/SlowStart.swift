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
