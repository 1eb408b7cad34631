/// Slow start: a backend that (re)joins ramps from 10% to its full weight over `duration`,
/// so a cold server (empty caches, JIT warming) is not handed its whole share at once.
public enum SlowStart {
    /// The weight to use `elapsed` ns after joining; `duration` 0 means off.
    /// Never below 1 for a positive weight (a joining backend still gets some traffic).
    @inline(__always)
    public static func weight(_ weight: Int, elapsed: UInt64, duration: UInt64) -> Int {
        guard duration > 0, weight > 0, elapsed < duration else { return weight }
        let fraction = 0.1 + 0.9 * Double(elapsed) / Double(duration)
        return max(1, Int((Double(weight) * fraction).rounded()))
    }
}
