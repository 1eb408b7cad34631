/// Weighted random choice over a fixed set of weights, by binary search over cumulative weights.
///
/// Pure value; the caller supplies the random numbers (each worker has its own generator).
public struct WeightedRandom: Sendable {
    private(set) var cumulative: [Int]
    public var total: Int { cumulative.last ?? 0 }

    public init(weights: [Int]) {
        var sum = 0
        cumulative = weights.map { w in
            sum += max(0, w)
            return sum
        }
    }

    /// The member `random` (any value) falls on, in proportion to weight; nil when all weights are 0.
    @inline(__always)
    public func pick(_ random: UInt64) -> Int? {
        guard total > 0 else { return nil }
        let r = Int(random % UInt64(total))
        var lo = 0
        var hi = cumulative.count - 1
        while lo < hi {
            let mid = (lo + hi) / 2
            if cumulative[mid] > r { hi = mid } else { lo = mid + 1 }
        }
        return lo
    }

    /// A weighted pick among the members `eligible` accepts: a few random tries, then a scan
    /// from a random start (so ineligible members never stall the choice).
    @inline(__always)
    public func pick(where eligible: (Int) -> Bool, random: () -> UInt64) -> Int? {
        for _ in 0..<4 {
            if let i = pick(random()), eligible(i) { return i }
        }
        let n = cumulative.count
        guard n > 0 else { return nil }
        let start = Int(random() % UInt64(n))
        for k in 0..<n {
            let i = (start + k) % n
            let w = cumulative[i] - (i > 0 ? cumulative[i - 1] : 0)
            if w > 0 && eligible(i) { return i }
        }
        return nil
    }
}

extension WeightedRandom: Picker {
    package var count: Int { cumulative.count }

    @inline(__always)
    package func weight(at i: Int) -> Int { cumulative[i] - (i > 0 ? cumulative[i - 1] : 0) }

    /// A weighted draw among the eligible members (see `pick(where:random:)`).
    @inline(__always)
    package func pick<V: BackendView>(_ eligibility: Eligibility, in view: V, random: inout FastRandom) -> Int? {
        pick(where: { eligibility.admits($0, view) }, random: { random.next() })
    }

    @inline(__always)
    package mutating func pick<V: BackendView>(_ eligibility: Eligibility, in view: V, key: UInt64, random: inout FastRandom) -> Int? {
        pick(eligibility, in: view, random: &random)
    }

    /// Shifts the cumulative weights from member `i` on: O(members), in place.
    package mutating func weightChanged(_ weight: Int, at i: Int) {
        let delta = max(0, weight) - self.weight(at: i)
        guard delta != 0 else { return }
        for k in i..<cumulative.count { cumulative[k] += delta }
    }
}

/// A small, fast generator (xorshift64*) for balancing decisions; not for secrets.
public struct FastRandom: Sendable {
    var state: UInt64

    public init(seed: UInt64) { state = seed == 0 ? 0x9E37_79B9_7F4A_7C15 : seed }

    @inline(__always)
    public mutating func next() -> UInt64 {
        state ^= state >> 12
        state ^= state << 25
        state ^= state >> 27
        return state &* 0x2545_F491_4F6C_DD1D
    }
}
