extension DurationHistogram {
    /// The `q` quantile (0…1) of the observations counted in `buckets` (per bucket, not
    /// cumulative, `bounds.count + 1` long), interpolated linearly inside its bucket as
    /// Prometheus's `histogram_quantile` does; the +Inf bucket answers the last bound. NaN when
    /// nothing was counted.
    static func quantile(_ q: Double, _ buckets: [Int]) -> Double {
        let total = buckets.reduce(0, +)
        guard total > 0 else { return .nan }
        let rank = q * Double(total)
        var below = 0
        for (i, n) in buckets.enumerated() where n > 0 {
            if Double(below + n) >= rank {
                guard i < bounds.count else { return bounds[bounds.count - 1] }
                let lower = i == 0 ? 0 : bounds[i - 1]
                return lower + (bounds[i] - lower) * max(0, rank - Double(below)) / Double(n)
            }
            below += n
        }
        return bounds[bounds.count - 1]
    }
}
