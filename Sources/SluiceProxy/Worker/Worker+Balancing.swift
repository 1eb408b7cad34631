import Logging
import SluiceBalancing
import SluiceConfig
import SluiceEventLoop
import SluiceSystem
import SluiceTLS
import Synchronization

/// A worker's view of one cluster's backends for the pure balancing decisions
/// (`SluiceBalancing.BackendView`): shared health atomics and slots in use (all workers),
/// this worker's requests in flight and recent failures. Built per pick from references (no
/// copy, no allocation).
struct WorkerBackends: BackendView {
    let cluster: ClusterRuntime
    let backends: [BackendRuntime]
    /// The request's priority lane: which share of each backend's slots it may take.
    let lane: Int
    /// Requests in flight per backend id, on this worker.
    let inFlight: [Int]
    /// Per backend id: until when it counts as "just failed" on this worker.
    let justFailedUntil: [UInt64]

    @inline(__always)
    func isAvailable(_ i: Int, at now: UInt64) -> Bool { backends[i].health.isAvailable(at: now) }

    @inline(__always)
    func isAdminActive(_ i: Int) -> Bool { backends[i].health.adminState == .active }

    @inline(__always)
    func active(_ i: Int) -> Int { inFlight[backends[i].id] }

    @inline(__always)
    func justFailed(_ i: Int, at now: UInt64) -> Bool { justFailedUntil[backends[i].id] > now }

    @inline(__always)
    func hasFreeSlot(_ i: Int) -> Bool { cluster.hasFreeSlot(backends[i], lane: lane) }
}

/// Balancing on a worker: which tier and backend a request goes to (DESIGN §3 failover).
/// Thin adapters: the decisions are `TierSelector`, `Eligibility` and the cluster's `Balancer`
/// in SluiceBalancing; this holds the per-worker state they run on. Loop thread only.
extension Worker {

    /// The cluster (an index of `listener.snapshot` and `listener.clusters`) for `route`; a
    /// split picks by weight.
    func pickCluster(listener: ListenerHandler, route: Int) -> Int {
        let li = listener.listenerIndex
        let r = listener.snapshot.routers[li].routes[route]
        if r.clusters.count == 1 { return r.clusters[0] }
        guard listener.isCurrent, li < splits.count, route < splits[li].count else { return r.clusters[0] }
        let k = splits[li][route].next() ?? 0
        return r.clusters[k]
    }

    /// Picks a backend not already tried: failover decides the tier (DESIGN §3), the cluster's
    /// algorithm the backend within it. Nil means no capacity (503). One call is one step of
    /// the balancer: to ask whether a pick would succeed, use `hasEligibleBackend`.
    /// `respectLimits: false` asks whether a backend would be available but for `limits`.
    /// `after` is the backend whose connect failed or reset just now: the pick is then a
    /// failover pick (see `TierSelector.plan`).
    func pickBackend(
        _ wc: WorkerCluster, excluding tried: [Int], hashKey: UInt64, lane: Int, respectLimits: Bool = true,
        after failed: BackendRuntime? = nil
    ) -> Int? {
        let c = wc.runtime
        if c.slowStart > 0 { applyRamp(wc) }
        let plan = pickPlan(wc, after: failed, draw: true)
        guard plan.first >= 0 else { return nil }
        let e = plan.eligibility(tried: tried, limited: respectLimits && c.limited, now: loop.now)
        let view = backendView(c, lane: lane)
        if let i = pick(wc, tier: plan.first, e, view, hashKey: hashKey) { return i }
        guard plan.second >= 0 else { return nil }
        return pick(wc, tier: plan.second, e, view, hashKey: hashKey)
    }

    /// Whether `pickBackend` with the same arguments would find a backend, without picking one:
    /// no balancer state moves, so asking never skews the weighted split. Loop thread only.
    func hasEligibleBackend(
        _ wc: WorkerCluster, excluding tried: [Int], lane: Int, respectLimits: Bool = true, after failed: BackendRuntime? = nil
    ) -> Bool {
        let c = wc.runtime
        if c.slowStart > 0 { applyRamp(wc) }
        let plan = pickPlan(wc, after: failed, draw: false)
        let e = plan.eligibility(tried: tried, limited: respectLimits && c.limited, now: loop.now)
        let view = backendView(c, lane: lane)
        for k in 0..<2 {
            let tier = k == 0 ? plan.first : plan.second
            if tier >= 0,
                !wc.retired ? wc.balancers[tier].hasEligible(e, in: view) : e.first(among: c.tiers[tier].weights, view) != nil
            {
                return true
            }
        }
        return false
    }

    /// Which tiers a pick tries, in order, and how it filters (`TierSelector`); `draw: false`
    /// keeps the random draw (and so the split) untouched.
    func pickPlan(_ wc: WorkerCluster, after failed: BackendRuntime?, draw: Bool) -> TierPlan {
        let c = wc.runtime
        let now = loop.now
        let recent = now < justFailedAny
        guard
            TierSelector<WorkerBackends>.needsPlan(
                afterFailure: failed != nil, backendsCanLeave: c.filtered || shared.registry.hasAdminOverrides, recentFailure: recent)
        else { return .unfiltered }
        return tierSelector(c).plan(
            share: tierShare(wc), failedTier: failed.map(tier(of:)), recentFailure: recent, draw: draw, random: &random)
    }

    /// Whether a failover pick after `failed` starts on the other tier (its own looks down).
    func leavesTier(_ wc: WorkerCluster, after failed: BackendRuntime) -> Bool {
        tierSelector(wc.runtime).leavesTier(tier(of: failed))
    }

    /// Remembers on this worker that `b` refused a connection or reset one before answering:
    /// for `justFailedWindow`, failover picks skip it. Loop thread only.
    func noteJustFailed(_ b: BackendRuntime) {
        guard b.id < justFailedUntil.count else { return }
        justFailedUntil[b.id] = loop.now &+ Self.justFailedWindow
        justFailedAny = justFailedUntil[b.id]
    }

    /// How long a backend that failed a connect or reset counts as "just failed" for retries.
    static let justFailedWindow: UInt64 = 1_000_000_000

    /// The failover split of `wc`, from this worker's cache (`TierShares`) while current.
    func tierShare(_ wc: WorkerCluster) -> TierShare {
        let c = wc.runtime
        let now = loop.now
        let clusters = snapshot.clusters
        shares.refresh(
            generation: shared.registry.currentGeneration, clusters: clusters.count,
            ejectionsMade: shared.registry.ejectionsMade.load(ordering: .relaxed) > 0, now: now
        ) { clusters[$0].tierShare(now: now) }
        guard !wc.retired else { return c.tierShare(now: now) }
        return shares.shares[c.index]
    }

    /// Slow start: while a backend of `c` ramps, its weight in this worker's round robin,
    /// random and least-request pickers follows `SlowStart`, in units of 1/`SlowStart.scale`
    /// (Maglev keeps full weights: consistent hashing should not move keys as weights ramp).
    /// Re-applied when `SlowStartRamp` says so (every 100 ms, or at once on a health change);
    /// a retired cluster's pickers are no longer used (see `pick`), so they are not ramped.
    func applyRamp(_ wc: WorkerCluster) {
        let c = wc.runtime
        guard !wc.retired, wc.ramp.due(now: loop.now, generation: shared.registry.currentGeneration) else { return }
        let now = loop.now
        for (k, tier) in c.tiers.enumerated() {
            for (i, b) in c.backends.enumerated() where tier.weights[i] > 0 {
                let joined = max(b.health.joinedAt.load(ordering: .relaxed), b.health.ejectedUntil.load(ordering: .relaxed))
                let w = SlowStart.rampedWeight(tier.weights[i], joinedAt: joined, now: now, duration: c.slowStart)
                if w != wc.balancers[k].weight(at: i) { wc.balancers[k].weightChanged(w, at: i) }
            }
        }
    }

    /// Passive health: one request's outcome at `b` (DESIGN §2 outlier_detection: connect
    /// failures, resets, response timeouts and any 5xx count as failures). The decision is
    /// `OutlierPolicy.decide`; this applies it to the backend's shared atomics.
    func recordOutcome(_ c: ClusterRuntime, _ b: BackendRuntime, success: Bool) {
        guard let policy = c.outlier else { return }
        let h = b.health
        if success {
            if h.consecutiveFailures.load(ordering: .relaxed) != 0 { h.consecutiveFailures.store(0, ordering: .relaxed) }
            return
        }
        let now = loop.now
        guard policy.countsFailure(ejected: h.isEjected(at: now)) else { return }
        let n = h.consecutiveFailures.wrappingAdd(1, ordering: .relaxed).newValue
        // The worker that resets the count from the threshold is the one that decides.
        guard policy.reachesThreshold(n),
            h.consecutiveFailures.compareExchange(expected: n, desired: 0, ordering: .relaxed).exchanged
        else { return }
        let history = EjectionHistory(
            streak: h.ejectionStreak.load(ordering: .relaxed), lastEnd: h.ejectedUntil.load(ordering: .relaxed),
            lastWarning: h.refusedEjectionLoggedAt.load(ordering: .relaxed))
        var tierSize = 0
        for o in c.backends where o.isStandby == b.isStandby { tierSize += 1 }
        let decision = policy.decide(failures: n, history: history, tierSize: tierSize, now: now) {
            var ejected = 0
            for o in c.backends where o.isStandby == b.isStandby && o.health.isEjected(at: now) { ejected += 1 }
            return ejected
        }
        switch decision {
        case .nothing: return
        case .refused(let warn):
            if warn, h.refusedEjectionLoggedAt.compareExchange(expected: history.lastWarning, desired: now, ordering: .relaxed).exchanged {
                shared.logger.warning(
                    "outlier not ejected: max_ejected reached", metadata: ["cluster": "\(c.name)", "backend": "\(b.name)"])
            }
        case .eject(let duration, let streak):
            h.ejectionStreak.store(streak, ordering: .relaxed)
            h.ejections.wrappingAdd(1, ordering: .relaxed)
            h.ejectedUntil.store(now &+ duration, ordering: .relaxed)
            shared.registry.ejectionsMade.wrappingAdd(1, ordering: .relaxed)
            shared.registry.healthChanged()
            shared.logger.notice(
                "backend ejected",
                metadata: [
                    "cluster": "\(c.name)", "backend": "\(b.name)", "failures": "\(n)", "seconds": "\(Double(duration) / 1e9)",
                ])
        }
    }

    // MARK: helpers

    @inline(__always)
    func backendView(_ c: ClusterRuntime, lane: Int = 0) -> WorkerBackends {
        WorkerBackends(cluster: c, backends: c.backends, lane: lane, inFlight: active, justFailedUntil: justFailedUntil)
    }

    @inline(__always)
    func tier(of b: BackendRuntime) -> Int { b.isStandby ? TierPlan.standby : TierPlan.primary }

    func tierSelector(_ c: ClusterRuntime) -> TierSelector<WorkerBackends> {
        TierSelector(
            view: backendView(c), primaryWeights: c.tiers[TierPlan.primary].weights, standbyWeights: c.tiers[TierPlan.standby].weights,
            hasStandby: c.hasStandby, failOpen: c.config.failover.whenAllDown == .failOpen, now: loop.now)
    }

    /// One tier, by the cluster's algorithm: this worker's picker, or, for an exchange that
    /// started on an older snapshot (a retired cluster), one over that snapshot's shared
    /// tables (round robin, whose state is per worker, becomes a plain scan there).
    @inline(__always)
    func pick(_ wc: WorkerCluster, tier: Int, _ e: Eligibility, _ view: WorkerBackends, hashKey: UInt64) -> Int? {
        if !wc.retired { return wc.balancers[tier].pick(e, in: view, key: hashKey, random: &random) }
        let c = wc.runtime
        if c.balance == .roundRobin { return e.first(among: c.tiers[tier].weights, view) }
        var stale = WorkerCluster.balancer(c, tier: tier, scaled: false)
        return stale.pick(e, in: view, key: hashKey, random: &random)
    }
}

extension Worker {
    /// Retries in flight may add at most `budget` on top of the cluster's requests in flight
    /// on this worker (`RetryBudget`, with a floor of 3 as Envoy's `min_retry_concurrency`).
    /// A retired cluster allows none (as before `WorkerCluster`: only current clusters retry).
    func retryBudgetAllows(_ wc: WorkerCluster, _ policy: RetryConfig) -> Bool {
        guard !wc.retired else { return false }
        var inFlight = 0
        for b in wc.runtime.backends { inFlight += active[b.id] }
        return RetryBudget(ratio: policy.budget).allows(retriesInFlight: wc.retriesInFlight, requestsInFlight: inFlight)
    }

    /// Counts a retry by cluster index (by name if a reload retired the cluster).
    func countRetry(_ wc: WorkerCluster, _ reason: RetryReason) {
        if let i = wc.currentIndex {
            metrics.countRetry(cluster: i, reason)
        } else {
            metrics.countRetiredRetry(cluster: wc.runtime.name, reason)
        }
    }
}
