@testable import SluiceBalancing

/// A controllable `BackendView` for the pure decisions: per member, health, operator state,
/// requests in flight and until when it "just failed". Members are indices 0..<count.
struct TestBackends: BackendView {
    var available: [Bool]
    var adminActive: [Bool]
    var inFlight: [Int]
    var justFailedUntil: [UInt64]
    /// Requests in flight (all workers) at which a member is full.
    var limit = Int.max

    init(count: Int) {
        available = Array(repeating: true, count: count)
        adminActive = Array(repeating: true, count: count)
        inFlight = Array(repeating: 0, count: count)
        justFailedUntil = Array(repeating: 0, count: count)
    }

    func isAvailable(_ i: Int, at now: UInt64) -> Bool { available[i] && adminActive[i] }
    func isAdminActive(_ i: Int) -> Bool { adminActive[i] }
    func active(_ i: Int) -> Int { inFlight[i] }
    func justFailed(_ i: Int, at now: UInt64) -> Bool { justFailedUntil[i] > now }
    func hasFreeSlot(_ i: Int) -> Bool { inFlight[i] < limit }
}

/// Counts of `n` picks by `picker` under `e`.
func counts<P: Picker>(_ picker: inout P, _ e: Eligibility, _ view: TestBackends, n: Int, key: UInt64 = 0, seed: UInt64 = 1) -> [Int] {
    var random = FastRandom(seed: seed)
    var out = Array(repeating: 0, count: picker.count + 1)
    for _ in 0..<n { out[picker.pick(e, in: view, key: key, random: &random) ?? picker.count] += 1 }
    return out
}
