/// How a cluster's load divides between its primary and standby tiers
/// (Envoy's priority load with an overprovisioning factor).
public struct TierShare: Sendable, Equatable {
    /// Fraction of requests for the standby tier (0...1).
    public let standby: Double
    /// No backend of either tier is healthy: `when_all_down` decides.
    public let allDown: Bool

    /// `healthyPrimary` and `totalPrimary` are sums of weights.
    public init(healthyPrimary: Int, totalPrimary: Int, standbyAvailable: Bool, overprovisioning: Double) {
        guard totalPrimary > 0 else {
            standby = standbyAvailable ? 1 : 0
            allDown = !standbyAvailable && healthyPrimary == 0
            return
        }
        let primaryLoad = min(1.0, overprovisioning * Double(healthyPrimary) / Double(totalPrimary))
        standby = standbyAvailable ? 1 - primaryLoad : 0
        allDown = healthyPrimary == 0 && !standbyAvailable
    }
}

/// A worker's failover shares, one per cluster of its snapshot, recomputed only when they
/// may have moved: the registry's health generation changed, the snapshot's cluster count
/// changed, or (while ejections were made, since they end by the clock, not by an event)
/// every `ejectionRefresh`.
///
/// Loop thread only. A lookup is an index; a refresh is one pass over every backend.
package struct TierShares: Sendable {
    /// How often shares are recomputed while ejections may be ending.
    package static let ejectionRefresh: UInt64 = 100_000_000

    package private(set) var shares: [TierShare] = []
    private var generation: UInt64 = .max
    private var validUntil: UInt64 = 0

    package init() {}

    /// Forgets the shares: the next `refresh` recomputes (a new snapshot).
    package mutating func invalidate() { generation = .max }

    /// Whether `refresh` would recompute at `now`.
    package func isStale(generation g: UInt64, clusters: Int, ejectionsMade: Bool, now: UInt64) -> Bool {
        g != generation || shares.count != clusters || (ejectionsMade && now >= validUntil)
    }

    /// Recomputes every cluster's share with `compute` when stale (see `isStale`).
    package mutating func refresh(
        generation g: UInt64, clusters: Int, ejectionsMade: Bool, now: UInt64, compute: (Int) -> TierShare
    ) {
        guard isStale(generation: g, clusters: clusters, ejectionsMade: ejectionsMade, now: now) else { return }
        shares = (0..<clusters).map(compute)
        generation = g
        validUntil = now &+ Self.ejectionRefresh
    }
}
