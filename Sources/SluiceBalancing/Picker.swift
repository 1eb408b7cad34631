/// One balancing algorithm over the members of one tier, as a worker keeps it (haproxy's
/// per-algorithm hook table: pick, has-eligible, weight changed).
///
/// Each algorithm has its own file and type (`SmoothWeightedRoundRobin`, `WeightedRandom`,
/// `LeastRequest`, `Maglev`); `Balancer` is the enum over them that a worker stores, so a
/// pick is a switch and a specialized call: no existential, no allocation. Loop thread only:
/// each worker owns its pickers.
package protocol Picker {
    /// Members, indexed like the cluster's backends.
    var count: Int { get }
    /// Member `i`'s weight in this table (0: not in this tier).
    func weight(at i: Int) -> Int
    /// One step of the algorithm among the members `eligibility` admits; nil when none is.
    /// `key` is the request's hash key (only `Maglev` reads it); `random` the worker's generator.
    mutating func pick<V: BackendView>(_ eligibility: Eligibility, in view: V, key: UInt64, random: inout FastRandom) -> Int?
    /// Whether `pick` would find a member, without moving any state (asking never skews the
    /// weighted split). The default scans the members: O(members).
    func hasEligible<V: BackendView>(_ eligibility: Eligibility, in view: V) -> Bool
    /// Member `i` now weighs `weight` (slow start's ramp). In place: no allocation once the
    /// table is this worker's own.
    mutating func weightChanged(_ weight: Int, at i: Int)
}

extension Picker {
    /// A scan of the members with weight: O(members).
    @inline(__always)
    package func hasEligible<V: BackendView>(_ eligibility: Eligibility, in view: V) -> Bool {
        for i in 0..<count where weight(at: i) > 0 && eligibility.admits(i, view) { return true }
        return false
    }
}

/// The picker of one tier of one cluster on one worker, whichever algorithm the cluster uses.
///
/// An enum rather than `any Picker`: the switch costs a branch, an existential would cost a
/// box and dynamic dispatch per request. Mutating round robin in place first parks `.empty`
/// in `self`, so the payload's arrays are uniquely referenced and never copied.
package enum Balancer: Picker {
    case roundRobin(SmoothWeightedRoundRobin)
    case random(WeightedRandom)
    case leastRequest(LeastRequest)
    case hash(Maglev)
    /// Transient, during an in-place mutation; also "no members".
    case empty

    package var count: Int {
        switch self {
        case .roundRobin(let p): return p.count
        case .random(let p): return p.count
        case .leastRequest(let p): return p.count
        case .hash(let p): return p.count
        case .empty: return 0
        }
    }

    package func weight(at i: Int) -> Int {
        switch self {
        case .roundRobin(let p): return p.weight(at: i)
        case .random(let p): return p.weight(at: i)
        case .leastRequest(let p): return p.weight(at: i)
        case .hash(let p): return p.weight(at: i)
        case .empty: return 0
        }
    }

    @inline(__always)
    package mutating func pick<V: BackendView>(_ eligibility: Eligibility, in view: V, key: UInt64, random: inout FastRandom) -> Int? {
        switch self {
        case .roundRobin(var p):
            self = .empty
            defer { self = .roundRobin(p) }
            return p.pick(eligibility, in: view, key: key, random: &random)
        case .random(let p): return p.pick(eligibility, in: view, random: &random)
        case .leastRequest(let p): return p.pick(eligibility, in: view, random: &random)
        case .hash(let p): return p.pick(eligibility, in: view, key: key)
        case .empty: return nil
        }
    }

    /// One switch, then the algorithm's own scan.
    package func hasEligible<V: BackendView>(_ eligibility: Eligibility, in view: V) -> Bool {
        switch self {
        case .roundRobin(let p): return p.hasEligible(eligibility, in: view)
        case .random(let p): return p.hasEligible(eligibility, in: view)
        case .leastRequest(let p): return p.hasEligible(eligibility, in: view)
        case .hash(let p): return p.hasEligible(eligibility, in: view)
        case .empty: return false
        }
    }

    package mutating func weightChanged(_ weight: Int, at i: Int) {
        switch self {
        case .roundRobin(var p):
            self = .empty
            p.weightChanged(weight, at: i)
            self = .roundRobin(p)
        case .random(var p):
            self = .empty
            p.weightChanged(weight, at: i)
            self = .random(p)
        case .leastRequest(var p):
            self = .empty
            p.weightChanged(weight, at: i)
            self = .leastRequest(p)
        case .hash, .empty: break  // Maglev keeps full weights: ramping must not move keys
        }
    }
}
