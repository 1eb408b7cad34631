/// Smooth weighted round robin (the nginx algorithm): over any window of
/// `sum(weights)` picks, each member is chosen exactly `weight` times, interleaved
/// rather than in bursts (5:3:1 gives a a b a c a b a b, not a a a a a b b b c).
///
/// Pure value type; each worker keeps its own, so picking takes no lock.
/// Cost per pick: one pass over the members, no allocation.
public struct SmoothWeightedRoundRobin: Sendable {
    public private(set) var weights: [Int]
    private var current: [Int]

    public init(weights: [Int]) {
        self.weights = weights
        current = Array(repeating: 0, count: weights.count)
    }

    /// Changes one member's weight (runtime weight change, slow start).
    public mutating func setWeight(_ weight: Int, at index: Int) {
        weights[index] = weight
    }

    /// Picks the next member among those `eligible` accepts; nil when none has weight.
    @inline(__always)
    public mutating func next(where eligible: (Int) -> Bool) -> Int? {
        var total = 0
        var best = -1
        var bestValue = Int.min
        for i in 0..<weights.count {
            let w = weights[i]
            guard w > 0, eligible(i) else { continue }
            current[i] &+= w
            total &+= w
            if current[i] > bestValue {
                bestValue = current[i]
                best = i
            }
        }
        guard best >= 0 else { return nil }
        current[best] &-= total
        return best
    }

    @inline(__always)
    public mutating func next() -> Int? { next { _ in true } }
}

extension SmoothWeightedRoundRobin: Picker {
    package var count: Int { weights.count }

    @inline(__always)
    package func weight(at i: Int) -> Int { weights[i] }

    /// Round robin's step: every eligible member earns its weight, the richest is taken.
    /// With nothing to filter (`admitsAll`) the test per member is skipped. O(members).
    @inline(__always)
    package mutating func pick<V: BackendView>(_ eligibility: Eligibility, in view: V, key: UInt64, random: inout FastRandom) -> Int? {
        if eligibility.admitsAll { return next() }
        return next { eligibility.admits($0, view) }
    }

    package mutating func weightChanged(_ weight: Int, at i: Int) { setWeight(weight, at: i) }
}
