/// Maglev consistent hashing (Eisenbud et al., NSDI 2016): a lookup table of prime size in
/// which each member owns a share of entries in proportion to its weight. Adding or
/// removing one member moves only about its share of keys.
///
/// Built once per configuration snapshot (O(M log M)); lookup is one index and a modulo.
/// Immutable after building, so all workers share one table.
public struct Maglev: Sendable {
    /// Table size: a prime well above members × 100 for an even spread.
    public static let tableSize = 65_537
    let table: [Int32]
    /// The weights the table was built from (a member absent from this tier weighs 0).
    let weights: [Int]

    /// `names` seed each member's permutation, so a member keeps its entries across reloads.
    public init(names: [String], weights: [Int]) {
        self.weights = weights
        let m = Self.tableSize
        guard !names.isEmpty, weights.contains(where: { $0 > 0 }) else {
            table = []
            return
        }
        let offsets = names.map { Int(Self.hash(Array($0.utf8), seed: 0x51ED_270B) % UInt64(m)) }
        let skips = names.map { Int(Self.hash(Array($0.utf8), seed: 0x2545_F491) % UInt64(m - 1)) + 1 }
        var next = [Int](repeating: 0, count: names.count)
        var entries = [Int32](repeating: -1, count: m)
        let maxWeight = weights.max() ?? 1
        var credit = [Int](repeating: 0, count: names.count)
        var filled = 0
        // Weighted turns: each round a member earns its weight; it places an entry per maxWeight earned.
        while filled < m {
            for i in 0..<names.count where weights[i] > 0 {
                credit[i] += weights[i]
                while credit[i] >= maxWeight && filled < m {
                    credit[i] -= maxWeight
                    var c = (offsets[i] + next[i] * skips[i]) % m
                    while entries[c] >= 0 {
                        next[i] += 1
                        c = (offsets[i] + next[i] * skips[i]) % m
                    }
                    entries[c] = Int32(i)
                    next[i] += 1
                    filled += 1
                }
            }
        }
        table = entries
    }

    /// The member for `key`; when it is not `eligible`, the next eligible owner along the table.
    @inline(__always)
    public func pick(key: UInt64, where eligible: (Int) -> Bool) -> Int? {
        guard !table.isEmpty else { return nil }
        let m = table.count
        var slot = Int(key % UInt64(m))
        // Walking the table finds every member quickly; bound the walk for the all-ineligible case.
        for _ in 0..<min(m, 64 * max(weights.count, 1)) {
            let i = Int(table[slot])
            if eligible(i) { return i }
            slot += 1
            if slot == m { slot = 0 }
        }
        return nil
    }

    /// FNV-1a, then a 64-bit finalizer (splitmix) so nearby keys spread.
    @inline(__always)
    public static func hash(_ bytes: UnsafeRawBufferPointer, seed: UInt64 = 0) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325 ^ seed
        for b in bytes {
            h ^= UInt64(b)
            h &*= 0x0000_0100_0000_01B3
        }
        h ^= h >> 30
        h &*= 0xBF58_476D_1CE4_E5B9
        h ^= h >> 27
        h &*= 0x94D0_49BB_1331_11EB
        h ^= h >> 31
        return h
    }

    public static func hash(_ bytes: [UInt8], seed: UInt64 = 0) -> UInt64 {
        bytes.withUnsafeBytes { hash($0, seed: seed) }
    }
}

extension Maglev: Picker {
    package var count: Int { weights.count }

    @inline(__always)
    package func weight(at i: Int) -> Int { weights[i] }

    /// The owner of `key`'s slot, or the next eligible owner along the table.
    @inline(__always)
    package func pick<V: BackendView>(_ eligibility: Eligibility, in view: V, key: UInt64) -> Int? {
        pick(key: key, where: { eligibility.admits($0, view) })
    }

    @inline(__always)
    package mutating func pick<V: BackendView>(_ eligibility: Eligibility, in view: V, key: UInt64, random: inout FastRandom) -> Int? {
        pick(eligibility, in: view, key: key)
    }

    /// Ignored: the table keeps the weights it was built with, so slow start's ramp does not
    /// move keys between members (a reload rebuilds it).
    package func weightChanged(_ weight: Int, at i: Int) {}
}
