/// Which tiers one pick tries, in order, and how it filters their members (DESIGN §3 failover).
package struct TierPlan: Sendable, Equatable {
    /// Tier numbers, as the cluster keeps its tables.
    package static let primary = 0
    package static let standby = 1

    /// The tier tried first, then the one tried if the first has no eligible member; -1: none.
    package var first: Int
    package var second: Int
    package var filter: Eligibility.Filter
    /// Skip members that just failed on this worker (a failover pick).
    package var avoidJustFailed: Bool

    package init(first: Int, second: Int, filter: Eligibility.Filter, avoidJustFailed: Bool) {
        self.first = first
        self.second = second
        self.filter = filter
        self.avoidJustFailed = avoidJustFailed
    }

    /// Nothing can take a backend out: the primaries, unfiltered (the common case).
    package static let unfiltered = TierPlan(first: primary, second: -1, filter: .none, avoidJustFailed: false)
    /// Everything is down and `when_all_down: reject`: no tier.
    package static let none = TierPlan(first: -1, second: -1, filter: .none, avoidJustFailed: false)

    /// The eligibility of a pick under this plan.
    @inline(__always)
    package func eligibility(tried: [Int], limited: Bool, now: UInt64) -> Eligibility {
        Eligibility(filter: filter, avoidJustFailed: avoidJustFailed, tried: tried, limited: limited, now: now)
    }
}

/// The tier choice of one pick: from the failover share, local evidence of failures and
/// `when_all_down`. A value built per pick over the cluster's tier weights (shared arrays,
/// no copy); `plan` is a few comparisons unless a tier's recent failures must be weighed,
/// which is one pass over that tier. Loop thread only (reads the worker's `view`).
package struct TierSelector<View: BackendView> {
    package let view: View
    /// Configured weights per member of each tier (0: a member of the other tier).
    package let primaryWeights: [Int]
    package let standbyWeights: [Int]
    package let hasStandby: Bool
    /// `when_all_down: fail_open` (else `reject`).
    package let failOpen: Bool
    package let now: UInt64

    package init(view: View, primaryWeights: [Int], standbyWeights: [Int], hasStandby: Bool, failOpen: Bool, now: UInt64) {
        self.view = view
        self.primaryWeights = primaryWeights
        self.standbyWeights = standbyWeights
        self.hasStandby = hasStandby
        self.failOpen = failOpen
        self.now = now
    }

    /// Whether a pick needs a plan at all: without a failure to fail over from, a way for
    /// backends to leave (health checks, outlier detection, an operator's drain) or a recent
    /// local failure, `TierPlan.unfiltered` is the answer and no share is looked at.
    @inline(__always)
    package static func needsPlan(afterFailure: Bool, backendsCanLeave: Bool, recentFailure: Bool) -> Bool {
        afterFailure || backendsCanLeave || recentFailure
    }

    /// The plan for one pick.
    ///
    /// - Every backend is out (`share.allDown`): `fail_open` tries primaries, then standby,
    ///   that failed their checks or were ejected, but never one an operator drained or
    ///   disabled (HAProxy's MAINT); `reject` tries nothing.
    /// - A failover pick (`failedTier`: the tier of the backend whose connect failed or that
    ///   reset just now) stays in that tier unless more than half of its available weight just
    ///   failed on this worker; members that just failed are skipped, so it moves on to the
    ///   other tier before health checks have noticed an outage.
    /// - Otherwise the share decides the tier by one draw from `random` (`draw: false` skips
    ///   the draw and keeps the primaries first: a pick falls back to the other tier anyway),
    ///   except that while more than half of the primaries' weight just failed here
    ///   (`recentFailure` says some backend did), the standby tier comes first.
    package func plan(
        share: TierShare, failedTier: Int?, recentFailure: Bool, draw: Bool, random: inout FastRandom
    ) -> TierPlan {
        if share.allDown {
            guard failOpen else { return .none }
            return TierPlan(first: TierPlan.primary, second: TierPlan.standby, filter: .adminActive, avoidJustFailed: failedTier != nil)
        }
        if let own = failedTier {
            let first = mostlyJustFailed(tier: own) ? 1 - own : own
            return TierPlan(first: first, second: 1 - first, filter: .available, avoidJustFailed: true)
        }
        var tier = TierPlan.primary
        if draw && share.standby > 0 && (share.standby >= 1 || Double(random.next() >> 11) * 0x1p-53 < share.standby) {
            tier = TierPlan.standby
        }
        // Local evidence beats stale checks: while most of the primaries just failed here,
        // new requests start on the standby tier instead of paying a failed connect first.
        if tier == TierPlan.primary && hasStandby && recentFailure && mostlyJustFailed(tier: TierPlan.primary) {
            tier = TierPlan.standby
        }
        return TierPlan(first: tier, second: 1 - tier, filter: .available, avoidJustFailed: false)
    }

    /// Whether a failover pick after a failure in `failedTier` starts on the other tier.
    package func leavesTier(_ failedTier: Int) -> Bool {
        hasStandby && mostlyJustFailed(tier: failedTier)
    }

    /// More than half of the available weight of `tier` just failed on this worker: the tier
    /// looks down, whatever its checks say. One pass over the tier's members.
    package func mostlyJustFailed(tier: Int) -> Bool {
        let weights = tier == TierPlan.primary ? primaryWeights : standbyWeights
        var available = 0
        var failed = 0
        for i in weights.indices where weights[i] > 0 && view.isAvailable(i, at: now) {
            available += weights[i]
            if view.justFailed(i, at: now) { failed += weights[i] }
        }
        return available > 0 && failed * 2 > available
    }
}
