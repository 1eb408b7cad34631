import SluiceBalancing
import SluiceConfig
import SluiceSystem
import SluiceTLS

/// The precomputed choice tables of one tier (primary or standby) of a cluster.
/// Weights are indexed by the cluster's backend index; the other tier's backends weigh 0.
struct TierTables: Sendable {
    let weights: [Int]
    let totalWeight: Int
    let random: WeightedRandom
    let leastRequest: LeastRequest
    let maglev: Maglev?

    init(weights: [Int], names: [String], hash: Bool) {
        self.weights = weights
        totalWeight = weights.reduce(0, +)
        random = WeightedRandom(weights: weights)
        leastRequest = LeastRequest(weights: weights)
        maglev = hash ? Maglev(names: names, weights: weights) : nil
    }
}

/// A cluster as a snapshot sees it. Immutable; shared by all workers.
final class ClusterRuntime: Sendable {
    static let primary = 0
    static let standby = 1

    let name: String
    let index: Int
    /// Primaries first, then standby.
    let backends: [BackendRuntime]
    let connectTimeout: UInt64
    let responseTimeout: UInt64
    let upstreamIdleTimeout: UInt64
    let config: ClusterConfig
    let balance: BalanceAlgorithm
    /// [primary, standby]; Maglev tables (about 256 KiB each) only for `balance: hash`.
    let tiers: [TierTables]
    /// Health can take backends out (health checks configured).
    let healthChecked: Bool
    let hasStandby: Bool
    let outlier: OutlierPolicy?
    let retries: RetryConfig?
    let slowStart: UInt64
    /// `upstream_tls`: backends are spoken to over TLS with this context.
    let upstreamTLS: TLSClientContext?
    /// Backends can leave rotation (health checks or outlier detection): picks must filter.
    var filtered: Bool { healthChecked || outlier != nil }
    /// The process-wide waiting room (`limits`), nil without limits: then nothing is counted.
    let admission: ClusterAdmission?
    @inline(__always)
    var limited: Bool { admission != nil }
    /// `limits.max_requests_per_backend` for the whole process (`.max` without `limits`).
    let maxRequestsPerBackend: Int
    /// `limits.reserve_for_critical` in thousandths.
    let reservePermille: Int
    /// `limits.adaptive`: each backend's limit follows its latency (`AdaptiveLimit`).
    let adaptive: Bool
    /// `hash_on: header:NAME` / `cookie:NAME`, lowercased; empty for client_ip.
    let hashHeader: [UInt8]
    let hashCookie: [UInt8]

    init(_ c: ClusterConfig, index: Int, registry: BackendRegistry, upstreamTLS: TLSClientContext?) {
        self.upstreamTLS = upstreamTLS
        name = c.name
        self.index = index
        var list: [BackendRuntime] = []
        for b in c.backends {
            let (id, h) = registry.id(c, b)
            list.append(BackendRuntime(b, isStandby: false, id: id, health: h, serverName: c.upstreamTLS?.serverName))
        }
        for b in c.standby {
            let (id, h) = registry.id(c, b)
            list.append(BackendRuntime(b, isStandby: true, id: id, health: h, serverName: c.upstreamTLS?.serverName))
        }
        backends = list
        connectTimeout = c.connectTimeout
        responseTimeout = c.responseTimeout
        upstreamIdleTimeout = c.upstreamIdleTimeout
        config = c
        balance = c.balance
        let names = list.map(\.name)
        tiers = [
            TierTables(weights: list.map { $0.isStandby ? 0 : $0.weight }, names: names, hash: c.balance == .hash),
            TierTables(weights: list.map { $0.isStandby ? $0.weight : 0 }, names: names, hash: c.balance == .hash),
        ]
        healthChecked = c.healthCheck != nil
        hasStandby = !c.standby.isEmpty
        retries = c.retries
        slowStart = c.slowStart
        outlier = c.outlierDetection.map {
            OutlierPolicy(
                consecutiveFailures: $0.consecutiveFailures, baseEjection: $0.baseEjection, maxEjection: $0.maxEjection,
                maxEjectedShare: $0.maxEjected)
        }
        if let l = c.limits {
            admission = registry.admissions.admission(
                for: c.name, capacity: l.maxQueue, target: l.queueTarget, now: Clock.monotonicNanos())
            maxRequestsPerBackend = l.maxRequestsPerBackend
            reservePermille = Int((l.reserveForCritical * 1000).rounded())
            adaptive = l.adaptive
        } else {
            admission = nil
            adaptive = false
            maxRequestsPerBackend = .max
            reservePermille = 0
        }
        switch c.hashOn {
        case .clientIP:
            hashHeader = []
            hashCookie = []
        case .header(let name):
            hashHeader = Array(name.lowercased().utf8)
            hashCookie = []
        case .cookie(let name):
            hashHeader = []
            hashCookie = Array(name.utf8)
        }
    }

    /// The concurrency limit of backend `b` for the whole process right now: the configured
    /// `max_requests_per_backend` (`.max` without `limits`), or its adaptive limit
    /// (`limits.adaptive`). One relaxed load at most; any thread.
    @inline(__always)
    func limit(for b: BackendRuntime) -> Int {
        adaptive ? min(b.health.adaptive.limit, maxRequestsPerBackend) : maxRequestsPerBackend
    }

    /// The slots of `b` a request of `lane` may fill: all of them for critical (lane 0), all
    /// but the `reserve_for_critical` share for the others.
    @inline(__always)
    func capacity(of b: BackendRuntime, lane: Int) -> Int {
        let l = limit(for: b)
        guard lane > 0, reservePermille > 0 else { return l }
        return l - l * reservePermille / 1000
    }

    /// Whether `b` has a slot a request of `lane` may take now (one load, a plain one on
    /// x86; the add that takes the slot checks again).
    @inline(__always)
    func hasFreeSlot(_ b: BackendRuntime, lane: Int) -> Bool {
        b.health.inFlight.load(ordering: .sequentiallyConsistent) < capacity(of: b, lane: lane)
    }

    /// The failover split at monotonic time `now`: from the backends' health (atomic loads).
    func tierShare(now: UInt64) -> TierShare {
        var healthyPrimary = 0
        var totalPrimary = 0
        var standbyUp = false
        for (i, b) in backends.enumerated() {
            let available = b.health.isAvailable(at: now)
            if b.isStandby {
                if available && tiers[Self.standby].weights[i] > 0 { standbyUp = true }
                continue
            }
            let full = tiers[Self.primary].weights[i] * SlowStart.scale
            if b.health.newcomer.load(ordering: .relaxed) {
                // A backend added at run time (discovery, the API, a reload) is capacity being
                // added, not capacity lost: before its first passing check it counts on neither
                // side, while it ramps with its ramped weight on both, so a scale-out never
                // spills to the standby tier.
                guard available else { continue }
                let ramped = b.health.rampedScaledWeight(tiers[Self.primary].weights[i], now: now, slowStart: slowStart)
                healthyPrimary += ramped
                totalPrimary += ramped
                if ramped >= full { b.health.newcomer.store(false, ordering: .relaxed) }
                continue
            }
            totalPrimary += full
            // Ramped weight counts, fractionally as the balancers see it: failback from
            // standby is gradual too (DESIGN §2 slow_start).
            if available { healthyPrimary += b.health.rampedScaledWeight(tiers[Self.primary].weights[i], now: now, slowStart: slowStart) }
        }
        return TierShare(
            healthyPrimary: healthyPrimary, totalPrimary: totalPrimary, standbyAvailable: standbyUp,
            overprovisioning: config.failover.overprovisioning)
    }
}
