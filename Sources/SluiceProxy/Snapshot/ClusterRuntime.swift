import SluiceBalancing
import SluiceConfig
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
    /// `limits` split per worker (each worker enforces its share without sharing state, as
    /// nginx's `max_conns` does without a zone): requests at once per backend, waiters.
    let perWorkerBackendLimit: Int
    let perWorkerQueue: Int
    var limited: Bool { perWorkerBackendLimit != .max }
    /// `limits.max_requests_per_backend` for the whole process (`.max` without `limits`).
    let maxRequestsPerBackend: Int
    /// `limits.adaptive`: each backend's limit follows its latency (`AdaptiveLimit`).
    let adaptive: Bool
    /// `hash_on: header:NAME` / `cookie:NAME`, lowercased; empty for client_ip.
    let hashHeader: [UInt8]
    let hashCookie: [UInt8]

    init(_ c: ClusterConfig, index: Int, registry: BackendRegistry, workers: Int, upstreamTLS: TLSClientContext?) {
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
            let w = max(1, workers)
            perWorkerBackendLimit = max(1, (l.maxRequestsPerBackend + w - 1) / w)
            perWorkerQueue = (l.maxQueue + w - 1) / w
            maxRequestsPerBackend = l.maxRequestsPerBackend
            adaptive = l.adaptive
        } else {
            adaptive = false
            maxRequestsPerBackend = .max
            perWorkerBackendLimit = .max
            perWorkerQueue = 0
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

    /// The failover split at monotonic time `now`: from the backends' health (atomic loads).
    func tierShare(now: UInt64) -> TierShare {
        var healthyPrimary = 0
        var standbyUp = false
        for (i, b) in backends.enumerated() where b.health.isAvailable(at: now) {
            if b.isStandby {
                if tiers[Self.standby].weights[i] > 0 { standbyUp = true }
            } else {
                // Ramped weight counts, fractionally as the balancers see it: failback from
                // standby is gradual too (DESIGN §2 slow_start).
                healthyPrimary += b.health.rampedScaledWeight(tiers[Self.primary].weights[i], now: now, slowStart: slowStart)
            }
        }
        return TierShare(
            healthyPrimary: healthyPrimary, totalPrimary: tiers[Self.primary].totalWeight * SlowStart.scale, standbyAvailable: standbyUp,
            overprovisioning: config.failover.overprovisioning)
    }
}
