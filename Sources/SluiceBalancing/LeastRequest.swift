/// Least request by the power of two choices (as Envoy's `LEAST_REQUEST`): draw two members
/// at random in proportion to weight and take the one with fewer active requests per unit
/// of weight. Cheap (two draws, no scan) and close to a full scan under load.
public struct LeastRequest: Sendable {
    private(set) var random: WeightedRandom
    private(set) var weights: [Int]

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

extension LeastRequest: Picker {
    package var count: Int { weights.count }

    @inline(__always)
    package func weight(at i: Int) -> Int { weights[i] }

    /// Two weighted draws among the eligible members; the one with fewer requests in flight
    /// on this worker per unit of weight wins.
    @inline(__always)
    package func pick<V: BackendView>(_ eligibility: Eligibility, in view: V, random: inout FastRandom) -> Int? {
        pick(active: { view.active($0) }, where: { eligibility.admits($0, view) }, random: { random.next() })
    }

    @inline(__always)
    package mutating func pick<V: BackendView>(_ eligibility: Eligibility, in view: V, key: UInt64, random: inout FastRandom) -> Int? {
        pick(eligibility, in: view, random: &random)
    }

    package mutating func weightChanged(_ weight: Int, at i: Int) {
        weights[i] = weight
        random.weightChanged(weight, at: i)
    }
}
