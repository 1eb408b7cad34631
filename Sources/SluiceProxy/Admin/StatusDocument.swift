import Foundation
import SluiceBalancing

/// `GET /status`: the JSON document (DESIGN §4), as `Encodable` values built from a sample.
///
/// Pure; control thread. Keys are the properties' names in snake case, written sorted and
/// pretty-printed; the dashboard (`Dashboard.html`) and operators' scripts read them.
struct StatusDocument: Encodable {
    struct Config: Encodable {
        var path: String
        var generation: Int
        var lastReload: LastReload
    }

    struct LastReload: Encodable {
        /// `success`, `failure`, or `none` (no reload since the start; `at` is the start).
        var result: String
        var at: String
        var errors: [String]
    }

    struct Listener: Encodable {
        var name: String
        var listen: String
        var tls: Bool
        var connectionsActive: Int
    }

    struct Cluster: Encodable {
        var name: String
        var balance: String
        var standbyShare: Double
        var allDown: Bool
        var queueDepth: Int
        var healthCheck: Bool
        var backends: [Backend]
        var requestsTotal: Int
        var errorsTotal: Int
        var durationSumSeconds: Double
        var durationCount: Int
        /// Requests of its cached routes by what the cache did (nil: no cached route).
        var cache: [String: Int]?
        /// Requests in flight and queued over capacity (nil without `limits`).
        var utilization: Double?
        var discovery: Discovery?
    }

    /// A cluster's discovery: its source and the last refresh.
    struct Discovery: Encodable {
        var source: String
        var name: String
        var lastResult: String?
        var lastRefresh: String?
        var error: String?
        var backendsAnswered: Int
        var removalsHeldBack: Int
        var refreshes: [String: Int]
    }

    struct Backend: Encodable {
        var name: String
        var address: String
        var tier: String
        var weight: Int
        var effectiveWeight: EffectiveWeight
        var state: MetricsSample.State
        var activeRequests: Int
        var requestsTotal: Int
        var ejections: Int
        var healthChecks: HealthChecks
        /// The concurrency limit now (adaptive or fixed); absent without `limits`.
        var limit: Int?
        /// `config`, `dns`, `srv`, `file` or `api`.
        var source: String
    }

    struct HealthChecks: Encodable {
        var passed: Int
        var failed: Int
    }

    /// A whole number once slow start is done (or never began), a fraction while it ramps.
    struct EffectiveWeight: Encodable {
        var scaled: Int

        func encode(to encoder: any Encoder) throws {
            var c = encoder.singleValueContainer()
            if scaled % SlowStart.scale == 0 {
                try c.encode(scaled / SlowStart.scale)
            } else {
                try c.encode(Double(scaled) / Double(SlowStart.scale))
            }
        }
    }

    /// The response cache's memory (nil: no route has a cache).
    struct CacheMemory: Encodable {
        var bytes: Int
        var objects: Int
        var evictions: Int
    }

    var config: Config
    var cache: CacheMemory?
    var workers: Int
    var listeners: [Listener]
    var clusters: [Cluster]
    var uptimeSeconds: Int

    init(_ s: MetricsSample) {
        let last =
            s.lastReload.map { LastReload(result: $0.success ? "success" : "failure", at: Self.rfc3339($0.at), errors: $0.errors) }
            ?? LastReload(result: "none", at: Self.rfc3339(s.startedAt), errors: [])
        config = Config(path: s.configPath, generation: s.generation, lastReload: last)
        workers = s.workers
        listeners = s.listeners.map { Listener(name: $0.name, listen: $0.listen, tls: $0.tls, connectionsActive: $0.connections) }
        clusters = s.clusters.map { c in
            let (requests, errors) = s.requestTotals(cluster: c.name)
            let d = s.totals.durations[c.name] ?? DurationHistogram()
            return Cluster(
                name: c.name, balance: c.balance, standbyShare: c.standbyShare, allDown: c.allDown, queueDepth: c.queueDepth,
                healthCheck: c.healthChecked,
                backends: c.backends.map { b in
                    Backend(
                        name: b.name, address: b.address, tier: b.tier, weight: b.weight,
                        effectiveWeight: EffectiveWeight(scaled: b.scaledEffectiveWeight), state: b.state,
                        activeRequests: b.activeRequests, requestsTotal: b.requestsTotal, ejections: b.ejections,
                        healthChecks: HealthChecks(passed: b.checksPassed, failed: b.checksFailed), limit: b.limit,
                        source: b.source)
                },
                requestsTotal: requests, errorsTotal: errors, durationSumSeconds: d.sum, durationCount: d.count,
                cache: s.cache.flatMap { m in
                    m.clusters.contains(c.name)
                        ? Dictionary(
                            uniqueKeysWithValues: CacheResult.allCases.map {
                                ($0.label, MetricTotals.count(s.totals.cache, c.name, $0.rawValue))
                            })
                        : nil
                }, utilization: c.utilization,
                discovery: c.discovery.map {
                    Discovery(
                        source: $0.kind, name: $0.detail, lastResult: $0.lastResult, lastRefresh: $0.lastAt.map(Self.rfc3339),
                        error: $0.lastError, backendsAnswered: $0.answered, removalsHeldBack: $0.heldBack,
                        refreshes: ["success": $0.successes, "error": $0.errors])
                })
        }
        cache = s.cache.map { CacheMemory(bytes: $0.bytes, objects: $0.objects, evictions: $0.evictions) }
        uptimeSeconds = Int(s.now.timeIntervalSince(s.startedAt))
    }

    /// The document as the admin listener sends it: sorted keys, pretty-printed.
    func json() -> Data {
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        // A non-finite number (a share computed over no weight) must not make the whole
        // document fail to encode: it is written as a string instead.
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return (try? e.encode(self)) ?? Data()
    }

    static func rfc3339(_ d: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.string(from: d)
    }
}
