import Logging
import SluiceBalancing
import SluiceConfig
import SluiceEventLoop
import SluiceSystem
import SluiceTLS
import Synchronization

/// How a pick filters backends (see `Worker.pickPlan`).
struct PickPlan {
    enum Filter { case none, adminActive, available }
    /// Tiers to try in order; -1: none.
    var first: Int
    var second: Int
    var filter: Filter
    /// Skip backends that just failed on this worker (failover picks).
    var avoidJustFailed: Bool
}

/// Balancing on a worker: which tier and backend a request goes to (DESIGN §3 failover),
/// slow-start ramps, passive health. Loop thread only.
extension Worker {

    /// The cluster (an index of `listener.snapshot`) for `route`; a split picks by weight.
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
    /// failover pick (see `pickPlan`).
    func pickBackend(
        _ c: ClusterRuntime, excluding tried: [Int], hashKey: UInt64, respectLimits: Bool = true, after failed: BackendRuntime? = nil
    ) -> Int? {
        let limit = respectLimits ? c.perWorkerBackendLimit : .max
        if c.slowStart > 0 { applyRamp(c) }
        let plan = pickPlan(c, after: failed, draw: true)
        guard plan.first >= 0 else { return nil }
        if let i = pick(c, tier: plan.first, tried: tried, hashKey: hashKey, plan: plan, limit: limit) { return i }
        guard plan.second >= 0 else { return nil }
        return pick(c, tier: plan.second, tried: tried, hashKey: hashKey, plan: plan, limit: limit)
    }

    /// Whether `pickBackend` with the same arguments would find a backend, without picking one:
    /// no balancer state moves, so asking never skews the weighted split. Loop thread only.
    func hasEligibleBackend(
        _ c: ClusterRuntime, excluding tried: [Int], respectLimits: Bool = true, after failed: BackendRuntime? = nil
    ) -> Bool {
        let limit = respectLimits ? c.perWorkerBackendLimit : .max
        if c.slowStart > 0 { applyRamp(c) }
        let plan = pickPlan(c, after: failed, draw: false)
        let now = loop.now
        for k in 0..<2 {
            let tier = k == 0 ? plan.first : plan.second
            guard tier >= 0 else { continue }
            let t = tables(c, tier: tier)
            for i in c.backends.indices
            where isEligible(c, i, weights: t.weights, tried: tried, plan: plan, limit: limit, now: now) {
                return true
            }
        }
        return false
    }

    /// Which tiers a pick tries, in order (-1: none), and how it filters backends.
    ///
    /// - Nothing can take a backend out (no health check, no outlier detection, no admin
    ///   override anywhere): the primaries, unfiltered.
    /// - Every backend is out (`allDown`): `fail_open` tries primaries, then standby, that
    ///   failed their checks or were ejected, but never one an operator drained or disabled
    ///   (HAProxy's MAINT); `reject` tries nothing.
    /// - A failover pick (a retry after a connect failure or a reset, or the replay of a stale
    ///   keep-alive connection) stays in the failed backend's tier unless more than half of that
    ///   tier's available weight just failed on this worker; backends that just failed are not
    ///   tried again (`justFailedUntil`), so it moves on to the other tier before health checks
    ///   have noticed an outage.
    /// - Otherwise the failover share decides the tier (`draw: false` skips the random draw and
    ///   lists both tiers: a pick falls back to the other tier anyway), except that while more
    ///   than half of the primaries' weight just failed on this worker, the standby tier comes
    ///   first.
    func pickPlan(_ c: ClusterRuntime, after failed: BackendRuntime?, draw: Bool) -> PickPlan {
        guard failed != nil || c.filtered || shared.registry.hasAdminOverrides || loop.now < justFailedAny else {
            return PickPlan(first: ClusterRuntime.primary, second: -1, filter: .none, avoidJustFailed: false)
        }
        let share = tierShare(c)
        if share.allDown {
            guard c.config.failover.whenAllDown == .failOpen else {
                return PickPlan(first: -1, second: -1, filter: .none, avoidJustFailed: false)
            }
            return PickPlan(
                first: ClusterRuntime.primary, second: ClusterRuntime.standby, filter: .adminActive, avoidJustFailed: failed != nil)
        }
        if let failed {
            let own = failed.isStandby ? ClusterRuntime.standby : ClusterRuntime.primary
            let first = tierMostlyJustFailed(c, tier: own) ? 1 - own : own
            return PickPlan(first: first, second: 1 - first, filter: .available, avoidJustFailed: true)
        }
        var tier = ClusterRuntime.primary
        if draw && share.standby > 0 && (share.standby >= 1 || Double(random.next() >> 11) * 0x1p-53 < share.standby) {
            tier = ClusterRuntime.standby
        }
        // Local evidence beats stale checks: while most of the primaries just failed here,
        // new requests start on the standby tier instead of paying a failed connect first.
        if tier == ClusterRuntime.primary && c.hasStandby && loop.now < justFailedAny
            && tierMostlyJustFailed(c, tier: ClusterRuntime.primary)
        {
            tier = ClusterRuntime.standby
        }
        return PickPlan(first: tier, second: 1 - tier, filter: .available, avoidJustFailed: false)
    }

    /// More than half of the available weight of `tier` had a connect failure or a reset on this
    /// worker within the last `justFailedWindow`: the tier looks down, whatever its checks say.
    func tierMostlyJustFailed(_ c: ClusterRuntime, tier: Int) -> Bool {
        let now = loop.now
        let weights = c.tiers[tier].weights
        var available = 0
        var failed = 0
        for (i, b) in c.backends.enumerated() where weights[i] > 0 && b.health.isAvailable(at: now) {
            available += weights[i]
            if justFailedUntil[b.id] > now { failed += weights[i] }
        }
        return available > 0 && failed * 2 > available
    }

    /// Whether a failover pick after `failed` starts on the other tier (its own looks down).
    func leavesTier(_ c: ClusterRuntime, after failed: BackendRuntime) -> Bool {
        c.hasStandby && tierMostlyJustFailed(c, tier: failed.isStandby ? ClusterRuntime.standby : ClusterRuntime.primary)
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

    func tierShare(_ c: ClusterRuntime) -> TierShare {
        let g = shared.registry.currentGeneration
        let now = loop.now
        // Ejections end by the clock, not by an event: while any were made, refresh every 100 ms.
        let timed = shared.registry.ejectionsMade.load(ordering: .relaxed) > 0 && now >= sharesValidUntil
        if g != sharesGeneration || shares.count != snapshot.clusters.count || timed {
            shares = snapshot.clusters.map { $0.tierShare(now: now) }
            sharesGeneration = g
            sharesValidUntil = now &+ 100_000_000
        }
        guard c.index < shares.count, snapshot.clusters[c.index] === c else { return c.tierShare(now: now) }
        return shares[c.index]
    }

    /// Slow start: every 100 ms while a backend of `c` ramps, its weight in this worker's round
    /// robin and random tables follows `SlowStart`, in units of 1/`SlowStart.scale` (Maglev
    /// keeps full weights: consistent hashing should not move keys as weights ramp).
    func applyRamp(_ c: ClusterRuntime) {
        guard c.index < rampCheckedAt.count, snapshot.clusters[c.index] === c else { return }
        let now = loop.now
        let generation = shared.registry.currentGeneration
        // A health change (a backend rejoining) applies at once; the ramp itself every 100 ms.
        guard now &- rampCheckedAt[c.index] >= 100_000_000 || rampGeneration[c.index] != generation else { return }
        rampCheckedAt[c.index] = now
        rampGeneration[c.index] = generation
        var ramping = false
        var tables: [TierTables] = []
        for (k, tier) in c.tiers.enumerated() {
            var weights = tier.weights.map { $0 * SlowStart.scale }
            for i in weights.indices where weights[i] > 0 {
                let w = c.backends[i].health.rampedScaledWeight(tier.weights[i], now: now, slowStart: c.slowStart)
                if w != weights[i] { ramping = true }
                weights[i] = w
                balancers[c.index][k].setWeight(w, at: i)
            }
            tables.append(TierTables(weights: weights, names: [], hash: false))
        }
        rampedTables[c.index] = ramping ? tables : nil
    }

    /// Passive health: one request's outcome at `b` (DESIGN §2 outlier_detection: connect
    /// failures, resets, response timeouts and any 5xx count as failures).
    func recordOutcome(_ c: ClusterRuntime, _ b: BackendRuntime, success: Bool) {
        guard let policy = c.outlier else { return }
        let h = b.health
        if success {
            if h.consecutiveFailures.load(ordering: .relaxed) != 0 { h.consecutiveFailures.store(0, ordering: .relaxed) }
            return
        }
        let now = loop.now
        // Failures of requests that were already in flight when it was ejected say nothing new:
        // an ejected backend is not ejected again (and its time does not double) until it is back.
        if h.isEjected(at: now) { return }
        let n = h.consecutiveFailures.wrappingAdd(1, ordering: .relaxed).newValue
        // The worker that resets the count from the threshold is the one that ejects.
        guard n >= policy.consecutiveFailures,
            h.consecutiveFailures.compareExchange(expected: n, desired: 0, ordering: .relaxed).exchanged
        else { return }
        let tier = c.backends.filter { $0.isStandby == b.isStandby }
        let ejected = tier.filter { $0.health.isEjected(at: now) }.count
        guard policy.mayEject(alreadyEjected: ejected, tierSize: tier.count) else {
            // Once per 10 s per backend, not once per failed request.
            let last = h.refusedEjectionLoggedAt.load(ordering: .relaxed)
            if last == 0 || now &- last >= 10_000_000_000,
                h.refusedEjectionLoggedAt.compareExchange(expected: last, desired: now, ordering: .relaxed).exchanged
            {
                shared.logger.warning(
                    "outlier not ejected: max_ejected reached", metadata: ["cluster": "\(c.name)", "backend": "\(b.name)"])
            }
            return
        }
        let lastEnd = h.ejectedUntil.load(ordering: .relaxed)
        let previous = policy.streak(h.ejectionStreak.load(ordering: .relaxed), lastEnd: lastEnd, now: now)
        h.ejectionStreak.store(previous + 1, ordering: .relaxed)
        h.ejections.wrappingAdd(1, ordering: .relaxed)
        let duration = policy.ejectionTime(previousEjections: previous)
        h.ejectedUntil.store(now &+ duration, ordering: .relaxed)
        shared.registry.ejectionsMade.wrappingAdd(1, ordering: .relaxed)
        shared.registry.healthChanged()
        shared.logger.notice(
            "backend ejected",
            metadata: [
                "cluster": "\(c.name)", "backend": "\(b.name)", "failures": "\(n)", "seconds": "\(Double(duration) / 1e9)",
            ])
    }

    /// The weights a pick in `tier` of `c` uses: slow start's ramped ones while any ramps.
    @inline(__always)
    func tables(_ c: ClusterRuntime, tier: Int) -> TierTables {
        if c.slowStart > 0, c.index < rampedTables.count, snapshot.clusters[c.index] === c, let r = rampedTables[c.index] {
            return r[tier]
        }
        return c.tiers[tier]
    }

    /// Whether backend `i` of `c` may be picked under `plan`.
    @inline(__always)
    func isEligible(_ c: ClusterRuntime, _ i: Int, weights: [Int], tried: [Int], plan: PickPlan, limit: Int, now: UInt64) -> Bool {
        guard weights[i] > 0, !tried.contains(i) else { return false }
        let b = c.backends[i]
        switch plan.filter {
        case .none: break
        case .adminActive: if b.health.adminState != .active { return false }
        case .available: if !b.health.isAvailable(at: now) { return false }
        }
        if limit != .max && active[b.id] >= limit { return false }
        if plan.avoidJustFailed && justFailedUntil[b.id] > now { return false }
        return true
    }

    /// One tier, by the cluster's algorithm. The eligibility test is passed as a non-escaping
    /// closure: one kept in a local variable would escape and cost a heap allocation per request.
    @inline(__always)
    func pick(_ c: ClusterRuntime, tier: Int, tried: [Int], hashKey: UInt64, plan: PickPlan, limit: Int) -> Int? {
        let t = tables(c, tier: tier)
        let now = loop.now
        switch c.balance {
        case .roundRobin:
            guard c.index < snapshot.clusters.count, snapshot.clusters[c.index] === c else {
                // The exchange started on an older snapshot: plain scan of its own backends.
                return c.backends.indices.first {
                    isEligible(c, $0, weights: t.weights, tried: tried, plan: plan, limit: limit, now: now)
                }
            }
            if tried.isEmpty && plan.filter == .none && limit == .max { return balancers[c.index][tier].next() }
            return balancers[c.index][tier].next {
                isEligible(c, $0, weights: t.weights, tried: tried, plan: plan, limit: limit, now: now)
            }
        case .random:
            return t.random.pick(
                where: { isEligible(c, $0, weights: t.weights, tried: tried, plan: plan, limit: limit, now: now) },
                random: { random.next() })
        case .leastRequest:
            return t.leastRequest.pick(
                active: { active[c.backends[$0].id] },
                where: { isEligible(c, $0, weights: t.weights, tried: tried, plan: plan, limit: limit, now: now) },
                random: { random.next() })
        case .hash:
            return c.tiers[tier].maglev?.pick(
                key: hashKey,
                where: { isEligible(c, $0, weights: t.weights, tried: tried, plan: plan, limit: limit, now: now) })
        }
    }
}

extension Worker {
    /// Retries in flight may add at most `budget` on top of the cluster's requests in flight
    /// on this worker (with a floor of 3, as Envoy's `min_retry_concurrency`).
    func retryBudgetAllows(_ c: ClusterRuntime, _ policy: RetryConfig) -> Bool {
        guard c.index < retriesInFlight.count, snapshot.clusters[c.index] === c else { return false }
        var inFlight = 0
        for b in c.backends { inFlight += active[b.id] }
        return retriesInFlight[c.index] < max(3, Int(policy.budget * Double(inFlight)))
    }

    /// Counts a retry by cluster index (by name if a reload retired the cluster).
    func countRetry(_ c: ClusterRuntime, _ reason: RetryReason) {
        if c.index < snapshot.clusters.count && snapshot.clusters[c.index] === c {
            metrics.countRetry(cluster: c.index, reason)
        } else {
            metrics.countRetiredRetry(cluster: c.name, reason)
        }
    }
}
