/// Passive health (Envoy's outlier detection): a backend that fails `consecutiveFailures`
/// requests in a row is ejected for `base × 2^(ejections so far)`, capped at `max`, unless
/// that would eject more than `maxEjectedShare` of its tier.
///
/// Pure functions; the counters themselves live in shared atomics next to the health flag.
public struct OutlierPolicy: Sendable, Equatable {
    public let consecutiveFailures: Int
    public let baseEjection: UInt64
    public let maxEjection: UInt64
    public let maxEjectedShare: Double

    public init(consecutiveFailures: Int, baseEjection: UInt64, maxEjection: UInt64, maxEjectedShare: Double) {
        self.consecutiveFailures = max(1, consecutiveFailures)
        self.baseEjection = baseEjection
        self.maxEjection = max(maxEjection, baseEjection)
        self.maxEjectedShare = maxEjectedShare
    }

    /// How long the `n`-th ejection (0-based) lasts.
    public func ejectionTime(previousEjections n: Int) -> UInt64 {
        var t = baseEjection
        for _ in 0..<min(n, 32) {
            if t >= maxEjection / 2 { return maxEjection }
            t *= 2
        }
        return min(t, maxEjection)
    }

    /// The repeat count the next ejection doubles by: `streak` while the last ejection ended
    /// less than `max_ejection` ago, else 0 (a backend that behaved for that long starts again
    /// from `base_ejection`, as Envoy's multiplier decays). `lastEnd` 0: never ejected.
    public func streak(_ streak: Int, lastEnd: UInt64, now: UInt64) -> Int {
        guard lastEnd != 0, now < lastEnd &+ maxEjection else { return 0 }
        return streak
    }

    /// Whether one more backend of a tier of `tierSize` may be ejected when `ejected` already are.
    /// At least one ejection is always allowed in a tier of two or more (Envoy's rule).
    public func mayEject(alreadyEjected ejected: Int, tierSize: Int) -> Bool {
        guard tierSize > 1 else { return false }
        if ejected == 0 { return true }
        return Double(ejected + 1) <= maxEjectedShare * Double(tierSize)
    }
}
