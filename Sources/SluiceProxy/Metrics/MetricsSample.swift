import Foundation

/// Everything `/status` and `/metrics` show, read at one moment: the configuration's listeners,
/// clusters and backends with their gauges, and every worker's counters merged.
///
/// A plain value: `ProxyServer.sample()` builds it on the control thread from the snapshot,
/// the shared health table and the workers' reports; `StatusDocument` and `PrometheusText`
/// turn it into answers, and tests build one by hand.
struct MetricsSample {
    /// A backend's state as `/status` names it (DESIGN §4).
    enum State: String, Encodable {
        case healthy, unhealthy, ejected, draining, disabled
    }

    struct Backend {
        var name: String
        var address: String
        var standby: Bool
        var weight: Int
        /// The weight it gets now × `SlowStart.scale` (0 out of rotation; ramps in slow start).
        var scaledEffectiveWeight: Int
        var state: State
        /// Passes its health checks (or has none).
        var healthy: Bool
        /// Requests in flight, on all workers.
        var activeRequests: Int
        /// Responses by status code, codes with a count only, in ascending order.
        var responses: [(code: Int, count: Int)]
        var checksPassed: Int
        var checksFailed: Int
        var ejections: Int
        /// Its concurrency limit now, adaptive or fixed; nil when its cluster has no `limits`.
        var limit: Int? = nil
        /// `backend_request_duration_seconds`: the answering attempts' times, on all workers.
        var duration = DurationHistogram()
        /// Where it came from: `config`, `dns`, `srv`, `file` or `api`.
        var source = "config"

        var tier: String { standby ? "standby" : "primary" }
        var requestsTotal: Int { responses.reduce(0) { $0 + $1.count } }
    }

    struct Cluster {
        var name: String
        var balance: String
        var healthChecked: Bool
        var outlierDetection: Bool
        var retries: Bool
        /// Share of new requests sent to the standby tier, and whether no backend is available.
        var standbyShare: Double
        var allDown: Bool
        var queueDepth: Int
        var backends: [Backend]
        /// The storm detector's view at the last history tick (nil before the first).
        var traffic: Traffic? = nil
        /// `cluster_utilization`: requests in flight over the limits of the backends that may
        /// take requests (nil without `limits`: no capacity to divide by).
        var utilization: Double? = nil
        /// Its `discovery` source and last refresh (nil without discovery).
        var discovery: Discovery? = nil
    }

    /// `/status` `discovery` and `discovery_refreshes_total` of one cluster.
    struct Discovery {
        var kind: String
        var detail: String
        var successes: Int
        var errors: Int
        var lastResult: String?
        var lastAt: Date?
        var lastError: String?
        var answered: Int
        var heldBack: Int
    }

    /// `traffic_rate`, `traffic_state` and `saturation_eta_seconds` of one cluster.
    struct Traffic {
        var state: String
        var rate10s: Double
        var rate10m: Double
        var etaSeconds: Double?
    }

    struct Listener {
        var name: String
        /// The bound address (port 0 resolved) or the configured text.
        var listen: String
        var tls: Bool
        var connections: Int
        /// Each certificate's subject name and notAfter (seconds since the epoch).
        var certificates: [(name: String, notAfter: Int)]
        /// The clusters its routes with a `rate_limit` count refusals under (shown at 0 too).
        var rateLimitedClusters: [String] = []
    }

    /// The outcome of the last reload (nil: none since the start).
    struct Reload {
        var success: Bool
        var at: Date
        var errors: [String]
    }

    var configPath: String
    var generation: Int
    var workers: Int
    var startedAt: Date
    var now: Date
    var lastReload: Reload?
    var reloadSuccesses: Int
    var reloadFailures: Int
    var lastReloadSuccess: Date
    var listeners: [Listener]
    var clusters: [Cluster]
    /// Every worker's counters merged; names of clusters a reload removed stay in it.
    var totals: MetricTotals
    /// The response cache's memory, and the clusters cached routes go to (nil: no cache).
    var cache: Cache? = nil

    struct Cache {
        var bytes: Int
        var objects: Int
        var evictions: Int
        var clusters: [String]
    }

    /// A cluster's `(requests, 5xx answers)` over every listener (and retired names).
    func requestTotals(cluster name: String) -> (requests: Int, errors: Int) {
        var total = 0
        var errors = 0
        for (k, n) in totals.requests where k.cluster == name {
            total += n
            if k.code >= 500 { errors += n }
        }
        return (total, errors)
    }
}
