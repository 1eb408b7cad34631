import Foundation
import SluiceBalancing
import SluiceConfig
import SluiceSystem

/// What one worker reports to the admin plane (gathered on its own thread).
struct WorkerReport {
    var active: [Int]
    var backendCodes: [Int]
    var requests: [WorkerMetrics.RequestKey: Int]
    var durations: [String: (buckets: [Int], sum: Double, count: Int)]
    var connections: [String: Int]
    var queueDepth: [String: Int]
    var shed: [String: [Int]]
    var retries: [String: [Int]]
    var handshakes: [String: [Int]]
}

extension ProxyServer {
    /// Asks every worker for its counters through its task queue and waits (≤ 1 s). Control thread.
    func collect() -> [WorkerReport] {
        final class Box: @unchecked Sendable {
            let lock = NSLock()
            var reports: [WorkerReport] = []
        }
        let box = Box()
        let group = DispatchGroup()
        for w in workers {
            group.enter()
            w.loop.execute {
                let t = w.metrics.totals()
                var depth: [String: Int] = [:]
                var shed = w.carriedShed
                for (i, c) in w.snapshot.clusters.enumerated() {
                    if i < w.queues.count { depth[c.name] = w.queues[i].waiters.count }
                    if i < w.shedCounts.count {
                        shed[c.name] = zip(shed[c.name] ?? Array(repeating: 0, count: ShedReason.allCases.count), w.shedCounts[i]).map(+)
                    }
                }
                var retries = w.carriedRetries
                for (i, c) in w.snapshot.clusters.enumerated() where i < w.retryCounts.count {
                    retries[c.name] = zip(retries[c.name] ?? Array(repeating: 0, count: RetryReason.allCases.count), w.retryCounts[i]).map(
                        +)
                }
                let r = WorkerReport(
                    active: w.active, backendCodes: w.metrics.backendCodes, requests: t.requests, durations: t.durations,
                    connections: w.connectionsPerListener, queueDepth: depth, shed: shed, retries: retries,
                    handshakes: w.tlsHandshakes)
                box.lock.lock()
                box.reports.append(r)
                box.lock.unlock()
                group.leave()
            }
        }
        _ = group.wait(timeout: .now() + 1)
        box.lock.lock()
        defer { box.lock.unlock() }
        return box.reports
    }

    static func state(_ b: BackendRuntime) -> String {
        switch b.health.adminState {
        case .disabled: return "disabled"
        case .draining: return "draining"
        case .active:
            if !b.health.isHealthy { return "unhealthy" }
            return b.health.isEjected(at: Clock.monotonicNanos()) ? "ejected" : "healthy"
        }
    }

    /// The weight a backend gets now: 0 when out of rotation, fractional while slow start ramps
    /// (a whole number once it is done).
    static func effectiveWeight(_ b: BackendRuntime, slowStart: UInt64) -> Any {
        let now = Clock.monotonicNanos()
        guard b.health.isAvailable(at: now) else { return 0 }
        let scaled = b.health.rampedScaledWeight(b.weight, now: now, slowStart: slowStart)
        if scaled % SlowStart.scale == 0 { return scaled / SlowStart.scale }
        return Double(scaled) / Double(SlowStart.scale)
    }

    static func rfc3339(_ d: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.string(from: d)
    }

    /// `GET /status`: listeners, clusters, every backend with tier, weights, state, load.
    func statusJSON() -> Data {
        let reports = collect()
        let snap = snapshot
        var last: [String: Any] = ["result": "none", "at": Self.rfc3339(startedAt), "errors": [String]()]
        if let l = lastReload {
            last = ["result": l.success ? "success" : "failure", "at": Self.rfc3339(l.at), "errors": l.errors]
        }
        let listeners: [[String: Any]] = snap.config.listeners.enumerated().map { i, l in
            [
                "name": l.name, "listen": boundAddresses[l.name]?.description ?? l.listenText, "tls": l.tls != nil,
                "connections_active": reports.reduce(0) { $0 + ($1.connections[l.name] ?? 0) },
            ]
        }
        let clusters: [[String: Any]] = snap.clusters.map { c in
            let share = c.tierShare(now: Clock.monotonicNanos())
            let backends: [[String: Any]] = c.backends.map { b in
                let active = reports.reduce(0) { $0 + (b.id < $1.active.count ? $1.active[b.id] : 0) }
                var requests = 0
                for r in reports where (b.id + 1) * WorkerMetrics.codes <= r.backendCodes.count {
                    for k in 0..<WorkerMetrics.codes { requests += r.backendCodes[b.id * WorkerMetrics.codes + k] }
                }
                return [
                    "name": b.name, "address": b.address.description, "tier": b.isStandby ? "standby" : "primary",
                    "weight": b.weight,
                    "effective_weight": Self.effectiveWeight(b, slowStart: c.slowStart),
                    "state": Self.state(b),
                    "active_requests": active, "requests_total": requests, "ejections": b.health.ejections.load(ordering: .relaxed),
                    "health_checks": [
                        "passed": b.health.passes.load(ordering: .relaxed), "failed": b.health.failures.load(ordering: .relaxed),
                    ],
                ]
            }
            var total = 0
            var errors = 0
            for r in reports {
                for (k, n) in r.requests where k.cluster == c.name {
                    total += n
                    if k.code >= 500 { errors += n }
                }
            }
            let d = reports.compactMap { $0.durations[c.name] }
            return [
                "name": c.name, "balance": c.balance.rawValue, "standby_share": share.standby, "all_down": share.allDown,
                "queue_depth": reports.reduce(0) { $0 + ($1.queueDepth[c.name] ?? 0) }, "health_check": c.healthChecked,
                "backends": backends,
                "requests_total": total, "errors_total": errors,
                "duration_sum_seconds": d.reduce(0) { $0 + $1.sum }, "duration_count": d.reduce(0) { $0 + $1.count },
            ]
        }
        let body: [String: Any] = [
            "config": ["path": configPath ?? snap.config.path, "generation": snap.generation, "last_reload": last],
            "workers": workers.count, "listeners": listeners, "clusters": clusters,
            "uptime_seconds": Int(Date().timeIntervalSince(startedAt)),
        ]
        return (try? JSONSerialization.data(withJSONObject: body, options: [.prettyPrinted, .sortedKeys])) ?? Data()
    }

    /// `GET /metrics`: Prometheus text format 0.0.4.
    func metricsText() -> String {
        let reports = collect()
        let snap = snapshot
        var out = ""
        func family(_ name: String, _ type: String, _ help: String) {
            out += "# HELP sluice_\(name) \(help)\n# TYPE sluice_\(name) \(type)\n"
        }
        func esc(_ s: String) -> String {
            s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(
                of: "\n", with: "\\n")
        }
        var requests: [WorkerMetrics.RequestKey: Int] = [:]
        var durations: [String: (buckets: [Int], sum: Double, count: Int)] = [:]
        for r in reports {
            requests.merge(r.requests, uniquingKeysWith: +)
            for (k, v) in r.durations {
                var d = durations[k] ?? (Array(repeating: 0, count: v.buckets.count), 0, 0)
                for i in v.buckets.indices { d.buckets[i] += v.buckets[i] }
                d.sum += v.sum
                d.count += v.count
                durations[k] = d
            }
        }
        family("requests_total", "counter", "Requests answered, by listener, cluster and status code.")
        for (k, n) in requests.sorted(by: {
            ($0.key.listener, $0.key.cluster, $0.key.code) < ($1.key.listener, $1.key.cluster, $1.key.code)
        }) {
            out += "sluice_requests_total{listener=\"\(esc(k.listener))\",cluster=\"\(esc(k.cluster))\",code=\"\(k.code)\"} \(n)\n"
        }
        family("request_duration_seconds", "histogram", "Time from a complete request head to the end of the response, by cluster.")
        for (name, d) in durations.sorted(by: { $0.key < $1.key }) {
            var cumulative = 0
            for (i, le) in WorkerMetrics.buckets.enumerated() {
                cumulative += d.buckets[i]
                out += "sluice_request_duration_seconds_bucket{cluster=\"\(esc(name))\",le=\"\(le)\"} \(cumulative)\n"
            }
            cumulative += d.buckets[WorkerMetrics.buckets.count]
            out += "sluice_request_duration_seconds_bucket{cluster=\"\(esc(name))\",le=\"+Inf\"} \(cumulative)\n"
            out += "sluice_request_duration_seconds_sum{cluster=\"\(esc(name))\"} \(d.sum)\n"
            out += "sluice_request_duration_seconds_count{cluster=\"\(esc(name))\"} \(d.count)\n"
        }
        family("backend_healthy", "gauge", "1 when the backend passes its health checks (or has none).")
        for c in snap.clusters {
            for b in c.backends {
                let tier = b.isStandby ? "standby" : "primary"
                out +=
                    "sluice_backend_healthy{cluster=\"\(esc(c.name))\",backend=\"\(esc(b.name))\",tier=\"\(tier)\"} \(b.health.isHealthy ? 1 : 0)\n"
            }
        }
        family("backend_active_requests", "gauge", "Requests in flight to the backend.")
        for c in snap.clusters {
            for b in c.backends {
                let n = reports.reduce(0) { $0 + (b.id < $1.active.count ? $1.active[b.id] : 0) }
                out += "sluice_backend_active_requests{cluster=\"\(esc(c.name))\",backend=\"\(esc(b.name))\"} \(n)\n"
            }
        }
        family("backend_requests_total", "counter", "Responses from the backend, by status code.")
        for c in snap.clusters {
            for b in c.backends {
                for code in 0..<WorkerMetrics.codes {
                    let n = reports.reduce(0) { sum, r in
                        sum
                            + (b.id * WorkerMetrics.codes + code < r.backendCodes.count
                                ? r.backendCodes[b.id * WorkerMetrics.codes + code] : 0)
                    }
                    if n > 0 {
                        out +=
                            "sluice_backend_requests_total{cluster=\"\(esc(c.name))\",backend=\"\(esc(b.name))\",code=\"\(code)\"} \(n)\n"
                    }
                }
            }
        }
        family("health_checks_total", "counter", "Active health checks, by result.")
        for c in snap.clusters where c.healthChecked {
            for b in c.backends {
                let labels = "cluster=\"\(esc(c.name))\",backend=\"\(esc(b.name))\""
                out += "sluice_health_checks_total{\(labels),result=\"pass\"} \(b.health.passes.load(ordering: .relaxed))\n"
                out += "sluice_health_checks_total{\(labels),result=\"fail\"} \(b.health.failures.load(ordering: .relaxed))\n"
            }
        }
        family("outlier_ejections_total", "counter", "Outlier ejections, by backend.")
        for c in snap.clusters where c.outlier != nil {
            for b in c.backends {
                out +=
                    "sluice_outlier_ejections_total{cluster=\"\(esc(c.name))\",backend=\"\(esc(b.name))\"} \(b.health.ejections.load(ordering: .relaxed))\n"
            }
        }
        family("failover_standby_share", "gauge", "Share of new requests sent to the standby tier (0 to 1).")
        for c in snap.clusters {
            out += "sluice_failover_standby_share{cluster=\"\(esc(c.name))\"} \(c.tierShare(now: Clock.monotonicNanos()).standby)\n"
        }
        family("queue_depth", "gauge", "Requests waiting for a backend slot (limits), by cluster.")
        for c in snap.clusters {
            out += "sluice_queue_depth{cluster=\"\(esc(c.name))\"} \(reports.reduce(0) { $0 + ($1.queueDepth[c.name] ?? 0) })\n"
        }
        family("shed_total", "counter", "Requests refused for lack of capacity (503), by cluster and reason.")
        for c in snap.clusters {
            for reason in ShedReason.allCases {
                let n = reports.reduce(0) { sum, r in sum + (r.shed[c.name].map { $0[reason.rawValue] } ?? 0) }
                out += "sluice_shed_total{cluster=\"\(esc(c.name))\",reason=\"\(reason.label)\"} \(n)\n"
            }
        }
        family("retries_total", "counter", "Requests tried again on another backend, by cluster and reason.")
        for c in snap.clusters where c.retries != nil {
            for reason in RetryReason.allCases {
                let n = reports.reduce(0) { sum, r in sum + (r.retries[c.name].map { $0[reason.rawValue] } ?? 0) }
                out += "sluice_retries_total{cluster=\"\(esc(c.name))\",reason=\"\(reason.label)\"} \(n)\n"
            }
        }
        family("tls_handshakes_total", "counter", "TLS handshakes on TLS listeners, by result.")
        for l in snap.config.listeners where l.tls != nil {
            for (k, result) in ["success", "failure"].enumerated() {
                let n = reports.reduce(0) { $0 + ($1.handshakes[l.name].map { $0[k] } ?? 0) }
                out += "sluice_tls_handshakes_total{listener=\"\(esc(l.name))\",result=\"\(result)\"} \(n)\n"
            }
        }
        family("tls_certificate_expiry_timestamp_seconds", "gauge", "When each listener certificate expires.")
        for (i, l) in snap.config.listeners.enumerated() {
            guard i < snap.tlsContexts.count, let ctx = snap.tlsContexts[i] else { continue }
            for e in ctx.expiries {
                out +=
                    "sluice_tls_certificate_expiry_timestamp_seconds{listener=\"\(esc(l.name))\",name=\"\(esc(e.name))\"} \(e.notAfter)\n"
            }
        }
        family("connections_active", "gauge", "Open client connections, by listener.")
        for l in snap.config.listeners {
            let n = reports.reduce(0) { $0 + ($1.connections[l.name] ?? 0) }
            out += "sluice_connections_active{listener=\"\(esc(l.name))\"} \(n)\n"
        }
        family("config_reloads_total", "counter", "Configuration reloads, by result.")
        out += "sluice_config_reloads_total{result=\"success\"} \(reloadSuccesses)\n"
        out += "sluice_config_reloads_total{result=\"failure\"} \(reloadFailures)\n"
        family("config_last_reload_success_timestamp_seconds", "gauge", "When the configuration last loaded successfully.")
        out += "sluice_config_last_reload_success_timestamp_seconds \(Int(lastReloadSuccess.timeIntervalSince1970))\n"
        return out
    }

    /// The runtime API on one backend. Returns an HTTP status and a message. Control thread.
    func backendCommand(cluster: String, backend: String, action: String, body: String) -> (Int, String) {
        guard let c = snapshot.clusters.first(where: { $0.name == cluster }) else { return (404, "no cluster \"\(cluster)\"\n") }
        guard let b = c.backends.first(where: { $0.name == backend }) else {
            return (404, "no backend \"\(backend)\" in cluster \"\(cluster)\"\n")
        }
        switch action {
        case "drain":
            registry.set(b.health, adminState: .draining)
        case "disable":
            registry.set(b.health, adminState: .disabled)
        case "enable":
            registry.set(b.health, adminState: .active)
        case "weight":
            guard let w = Int(body.trimmingCharacters(in: .whitespacesAndNewlines)), (0...10_000).contains(w) else {
                return (400, "the body must be a weight from 0 to 10000\n")
            }
            var config = snapshot.config
            guard let ci = config.clusters.firstIndex(where: { $0.name == cluster }) else { return (404, "no cluster\n") }
            if let bi = config.clusters[ci].backends.firstIndex(where: { $0.name == backend }) {
                config.clusters[ci].backends[bi].weight = w
            } else if let bi = config.clusters[ci].standby.firstIndex(where: { $0.name == backend }) {
                config.clusters[ci].standby[bi].weight = w
            }
            // A runtime change, not a reload: same generation; the next reload applies the file's weight.
            publish(config, generation: snapshot.generation)
            logger.notice("weight changed", metadata: ["cluster": "\(cluster)", "backend": "\(backend)", "weight": "\(w)"])
            return (200, "\(cluster)/\(backend) weight \(w)\n")
        default:
            return (404, "unknown action \"\(action)\"\n")
        }
        logger.notice("backend \(action)", metadata: ["cluster": "\(cluster)", "backend": "\(backend)"])
        return (200, "\(cluster)/\(backend) \(Self.state(b))\n")
    }
}
