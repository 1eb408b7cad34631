/// What a balancing decision may read about the members of a cluster on one worker: health
/// (shared atomics in the proxy), requests in flight and recent local failures (the worker's
/// own counters). Members are indexed as the cluster lists them (primaries, then standby).
///
/// Pickers and `TierSelector` are generic over it, so each call site is specialized: no
/// existential box, no allocation. Implementations are read on the worker's thread only.
package protocol BackendView {
    /// Healthy, not drained or disabled by an operator, and not ejected at `now`.
    func isAvailable(_ i: Int, at now: UInt64) -> Bool
    /// Not drained or disabled by an operator (health and ejection aside: HAProxy's MAINT).
    func isAdminActive(_ i: Int) -> Bool
    /// Requests in flight at member `i` on this worker.
    func active(_ i: Int) -> Int
    /// Member `i` has a slot under its concurrency limit for this request (the limits count
    /// across all workers; asked only when the pick is `limited`).
    func hasFreeSlot(_ i: Int) -> Bool
    /// Member `i` refused a connection or reset one on this worker within the last second.
    func justFailed(_ i: Int, at now: UInt64) -> Bool
}

/// Which members one pick may take: the predicate every algorithm applies to a candidate
/// (not tried yet by this request, passing the tier plan's filter, with a free slot under
/// its concurrency limit, and, on a failover pick, not one that just failed here).
///
/// A value built once per pick (the `tried` array is shared, not copied); `admits` is a few
/// comparisons and loads. Zero weights are the pickers' business: they never offer a member
/// without weight in their own table.
package struct Eligibility {
    /// How the tier plan filters by health (see `TierSelector`).
    package enum Filter: Sendable, Equatable {
        /// Nothing can take a backend out: no check.
        case none
        /// `when_all_down: fail_open`: anything an operator did not drain or disable.
        case adminActive
        /// Healthy, active and not ejected.
        case available
    }

    package var filter: Filter
    /// Skip members that just failed on this worker (a failover pick).
    package var avoidJustFailed: Bool
    /// Member indices this request already tried.
    package var tried: [Int]
    /// Members without a free slot (`BackendView.hasFreeSlot`) are skipped.
    package var limited: Bool
    /// The worker's clock (monotonic ns) for this pick.
    package var now: UInt64

    package init(filter: Filter, avoidJustFailed: Bool = false, tried: [Int] = [], limited: Bool = false, now: UInt64) {
        self.filter = filter
        self.avoidJustFailed = avoidJustFailed
        self.tried = tried
        self.limited = limited
        self.now = now
    }

    /// Every member with weight is eligible: a picker may skip the per-member test.
    @inline(__always)
    package var admitsAll: Bool { filter == .none && !avoidJustFailed && !limited && tried.isEmpty }

    /// Whether member `i` may be picked (its weight aside).
    @inline(__always)
    package func admits<V: BackendView>(_ i: Int, _ view: V) -> Bool {
        if tried.contains(i) { return false }
        switch filter {
        case .none: break
        case .adminActive: if !view.isAdminActive(i) { return false }
        case .available: if !view.isAvailable(i, at: now) { return false }
        }
        if limited && !view.hasFreeSlot(i) { return false }
        if avoidJustFailed && view.justFailed(i, at: now) { return false }
        return true
    }

    /// The first member, in index order, with weight in `weights` that `admits` accepts.
    /// A scan: for asking whether a pick could succeed, or picking on a stale snapshot.
    @inline(__always)
    package func first<V: BackendView>(among weights: [Int], _ view: V) -> Int? {
        for i in weights.indices where weights[i] > 0 && admits(i, view) { return i }
        return nil
    }
}
