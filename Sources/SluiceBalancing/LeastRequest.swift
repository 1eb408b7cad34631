/// Least request by the power of two choices (as Envoy's `LEAST_REQUEST`): draw two members
/// at random in proportion to weight and take the one with fewer active requests per unit
/// of weight. Cheap (two draws, no scan) and close to a full scan under load.
public struct LeastRequest: Sendable {
    let random: WeightedRandom
    let weights: [Int]

    public init(weights: [Int]) {
        self.weights = weights
        random = WeightedRandom(weights: weights)
    }

    /// `active(i)` is member i's requests in flight; `eligible` filters health, tried, drain.
    @inline(__always)
    public func pick(active: (Int) -> Int, where eligible: (Int) -> Bool, random next: () -> UInt64) -> Int? {
        guard let a = random.pick(where: eligible, random: next) else { return nil }
        guard let b = random.pick(where: eligible, random: next), b != a else { return a }
        // Compare (active + 1) / weight without division.
        let la = (active(a) + 1) * max(weights[b], 1)
        let lb = (active(b) + 1) * max(weights[a], 1)
        return la <= lb ? a : b
    }
}
