import SluiceBalancing

/// One cluster of one snapshot, on one worker: the shared `ClusterRuntime` and this worker's
/// state for it (its pickers per tier, slow-start ramp, retries in flight; the waiting room
/// is process-wide: `ClusterRuntime.admission`).
///
/// `Worker.apply` makes one per cluster of each new snapshot and marks the previous ones
/// `retired`. An exchange holds the `WorkerCluster` it was routed to (`ClientConnection.cluster`),
/// so state taken from it (a retry budget slot) goes back to the same
/// one, and one that started on an older snapshot keeps its older cluster until it ends.
///
/// Loop thread only. Made per cluster per snapshot, never per request.
final class WorkerCluster {
    /// The snapshot's cluster (immutable, shared by all workers).
    let runtime: ClusterRuntime
    /// This worker's picker per tier ([primary, standby]), weights × `SlowStart.scale`.
    var balancers: [Balancer]
    /// Slow start: when the ramp was last applied to `balancers`.
    var ramp = SlowStartRamp()
    /// Retries in flight: exchanges holding a slot of this cluster's retry budget.
    var retriesInFlight = 0
    /// A newer snapshot replaced this one: no new waiters or retries, and its counts go to
    /// the metrics carry-over by name. Its exchanges finish on it.
    var retired = false

    /// A worker's state for `runtime`, fresh (no retries, unramped pickers).
    init(_ runtime: ClusterRuntime) {
        self.runtime = runtime
        // Weights × SlowStart.scale, so slow start can ramp fractionally (no algorithm's
        // split changes when every weight is multiplied by one factor).
        balancers = runtime.tiers.indices.map { Self.balancer(runtime, tier: $0, scaled: true) }
    }

    /// The cluster's position in the current snapshot, for the per-cluster counters; nil
    /// once retired (its counts go by name).
    @inline(__always)
    var currentIndex: Int? { retired ? nil : runtime.index }

    /// The picker for `tier` of `c`. `scaled`: weights × `SlowStart.scale`, a worker's own
    /// tables that slow start can ramp fractionally (round robin's picks and the others'
    /// shares are unchanged by one common factor); else the snapshot's shared tables as they
    /// are. Maglev tables are always the snapshot's (about 256 KiB each).
    static func balancer(_ c: ClusterRuntime, tier: Int, scaled: Bool) -> Balancer {
        let t = c.tiers[tier]
        let weights = scaled ? t.weights.map { $0 * SlowStart.scale } : t.weights
        switch c.balance {
        case .roundRobin: return .roundRobin(SmoothWeightedRoundRobin(weights: weights))
        case .random: return .random(scaled ? WeightedRandom(weights: weights) : t.random)
        case .leastRequest: return .leastRequest(scaled ? LeastRequest(weights: weights) : t.leastRequest)
        case .hash: return t.maglev.map { .hash($0) } ?? .empty
        }
    }
}
