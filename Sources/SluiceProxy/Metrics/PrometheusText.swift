import SluiceBalancing
import SluiceConfig

/// `GET /metrics`: a sample in the Prometheus text exposition format 0.0.4.
///
/// Pure; control thread. Families and series come in a fixed order (the configuration's for
/// listeners, clusters and backends; label order for the name-keyed counters), so two scrapes
/// of the same state are the same text. Metric names and labels are DESIGN §4's.
enum PrometheusText {
    static func render(_ s: MetricsSample) -> String {
        var out = ""
        out.reserveCapacity(4096)
        func family(_ name: String, _ type: String, _ help: String) {
            out += "# HELP sluice_\(name) \(help)\n# TYPE sluice_\(name) \(type)\n"
        }
        func line(_ name: String, _ labels: String, _ value: any CustomStringConvertible) {
            out += "sluice_\(name){\(labels)} \(value)\n"
        }

        family("requests_total", "counter", "Requests answered, by listener, cluster and status code.")
        for (k, n) in s.totals.requests.sorted(by: { $0.key < $1.key }) {
            line("requests_total", "listener=\"\(esc(k.listener))\",cluster=\"\(esc(k.cluster))\",code=\"\(k.code)\"", n)
        }
        family("request_duration_seconds", "histogram", "Time from a complete request head to the end of the response, by cluster.")
        for (name, d) in s.totals.durations.sorted(by: { $0.key < $1.key }) {
            histogram("request_duration_seconds", "cluster=\"\(esc(name))\"", d, line)
        }
        family(
            "backend_request_duration_seconds", "histogram",
            "Time of the attempt that the backend answered, from connect to the end of its response.")
        for c in s.clusters {
            for b in c.backends { histogram("backend_request_duration_seconds", labels(c, b), b.duration, line) }
        }
        family("backend_healthy", "gauge", "1 when the backend passes its health checks (or has none).")
        for c in s.clusters {
            for b in c.backends {
                line("backend_healthy", "\(labels(c, b)),tier=\"\(b.tier)\"", b.healthy ? 1 : 0)
            }
        }
        family("backend_active_requests", "gauge", "Requests in flight to the backend.")
        for c in s.clusters {
            for b in c.backends { line("backend_active_requests", labels(c, b), b.activeRequests) }
        }
        family("backend_limit", "gauge", "Requests the backend may have in flight now (limits; adaptive or fixed).")
        for c in s.clusters {
            for b in c.backends { if let l = b.limit { line("backend_limit", labels(c, b), l) } }
        }
        family("backend_requests_total", "counter", "Responses from the backend, by status code.")
        for c in s.clusters {
            for b in c.backends {
                for r in b.responses { line("backend_requests_total", "\(labels(c, b)),code=\"\(r.code)\"", r.count) }
            }
        }
        family("health_checks_total", "counter", "Active health checks, by result.")
        for c in s.clusters where c.healthChecked {
            for b in c.backends {
                line("health_checks_total", "\(labels(c, b)),result=\"pass\"", b.checksPassed)
                line("health_checks_total", "\(labels(c, b)),result=\"fail\"", b.checksFailed)
            }
        }
        family("outlier_ejections_total", "counter", "Outlier ejections, by backend.")
        for c in s.clusters where c.outlierDetection {
            for b in c.backends { line("outlier_ejections_total", labels(c, b), b.ejections) }
        }
        family("failover_standby_share", "gauge", "Share of new requests sent to the standby tier (0 to 1).")
        for c in s.clusters { line("failover_standby_share", "cluster=\"\(esc(c.name))\"", c.standbyShare) }
        family("queue_depth", "gauge", "Requests waiting for a backend slot (limits), by cluster.")
        for c in s.clusters { line("queue_depth", "cluster=\"\(esc(c.name))\"", c.queueDepth) }
        family("shed_total", "counter", "Requests refused for lack of capacity (503), by cluster, reason and route priority.")
        for c in s.clusters {
            for reason in ShedReason.allCases {
                for p in RequestPriority.allCases {
                    let n = MetricTotals.count(s.totals.shed, c.name, reason.rawValue * WaitQueue.lanes + p.rawValue)
                    line("shed_total", "cluster=\"\(esc(c.name))\",reason=\"\(reason.label)\",priority=\"\(p.label)\"", n)
                }
            }
        }
        traffic(s, family, line)
        rateLimited(s, family, line)
        cache(s, family, line)
        family("retries_total", "counter", "Requests tried again on another backend, by cluster and reason.")
        for c in s.clusters where c.retries {
            for reason in RetryReason.allCases {
                let n = MetricTotals.count(s.totals.retries, c.name, reason.rawValue)
                line("retries_total", "cluster=\"\(esc(c.name))\",reason=\"\(reason.label)\"", n)
            }
        }
        family("tls_handshakes_total", "counter", "TLS handshakes on TLS listeners, by result.")
        for l in s.listeners where l.tls {
            for (k, result) in ["success", "failure"].enumerated() {
                let n = MetricTotals.count(s.totals.handshakes, l.name, k)
                line("tls_handshakes_total", "listener=\"\(esc(l.name))\",result=\"\(result)\"", n)
            }
        }
        family("tls_certificate_expiry_timestamp_seconds", "gauge", "When each listener certificate expires.")
        for l in s.listeners {
            for e in l.certificates {
                line("tls_certificate_expiry_timestamp_seconds", "listener=\"\(esc(l.name))\",name=\"\(esc(e.name))\"", e.notAfter)
            }
        }
        family("connections_active", "gauge", "Open client connections, by listener.")
        for l in s.listeners { line("connections_active", "listener=\"\(esc(l.name))\"", l.connections) }
        family("config_reloads_total", "counter", "Configuration reloads, by result.")
        line("config_reloads_total", "result=\"success\"", s.reloadSuccesses)
        line("config_reloads_total", "result=\"failure\"", s.reloadFailures)
        family("config_last_reload_success_timestamp_seconds", "gauge", "When the configuration last loaded successfully.")
        out += "sluice_config_last_reload_success_timestamp_seconds \(Int(s.lastReloadSuccess.timeIntervalSince1970))\n"
        return out
    }

    /// `rate_limited_total`: every counted series, and 0 for each limited route's listener and
    /// cluster not yet counted. Absent (not even HELP) when nothing is rate limited.
    /// `cache_requests_total` (every result of every cached cluster, 0 too) and the store's memory.
    private static func cache(
        _ s: MetricsSample, _ family: (String, String, String) -> Void, _ line: (String, String, Int) -> Void
    ) {
        guard let c = s.cache else { return }
        family("cache_requests_total", "counter", "Requests of cached routes, by cluster and what the cache did.")
        var names = c.clusters
        for n in s.totals.cache.keys.sorted() where !names.contains(n) { names.append(n) }
        for n in names {
            for r in CacheResult.allCases {
                line(
                    "cache_requests_total", "cluster=\"\(esc(n))\",result=\"\(r.label)\"", MetricTotals.count(s.totals.cache, n, r.rawValue)
                )
            }
        }
        family("cache_bytes", "gauge", "Memory held by stored responses (heads and bodies).")
        line("cache_bytes", "", c.bytes)
        family("cache_objects", "gauge", "Stored responses.")
        line("cache_objects", "", c.objects)
        family("cache_evictions_total", "counter", "Stored responses evicted to stay within cache.max_size.")
        line("cache_evictions_total", "", c.evictions)
    }

    /// The storm detector's rates, state and saturation estimate (DESIGN §3 "Traffic storms");
    /// a cluster is shown once the history has ticked for it, the estimate only while traffic
    /// grows toward a known capacity.
    private static func traffic(
        _ s: MetricsSample, _ family: (String, String, String) -> Void, _ line: (String, String, any CustomStringConvertible) -> Void
    ) {
        family("traffic_rate", "gauge", "Requests per second arriving for the cluster, over the last 10 s and its 10-minute level.")
        for c in s.clusters {
            guard let t = c.traffic else { continue }
            line("traffic_rate", "cluster=\"\(esc(c.name))\",window=\"10s\"", t.rate10s)
            line("traffic_rate", "cluster=\"\(esc(c.name))\",window=\"10m\"", t.rate10m)
        }
        family("traffic_state", "gauge", "1 for the cluster's traffic state now (calm, rising, storm), 0 for the others.")
        for c in s.clusters {
            guard let t = c.traffic else { continue }
            for state in StormDetector.State.allCases {
                line("traffic_state", "cluster=\"\(esc(c.name))\",state=\"\(state.rawValue)\"", state.rawValue == t.state ? 1 : 0)
            }
        }
        family("saturation_eta_seconds", "gauge", "Seconds until the cluster's capacity runs out at the current growth.")
        for c in s.clusters {
            if let eta = c.traffic?.etaSeconds, eta.isFinite { line("saturation_eta_seconds", "cluster=\"\(esc(c.name))\"", eta) }
        }
        family(
            "cluster_utilization", "gauge",
            "Requests in flight and queued over the limits of the backends that may take requests (clusters with limits).")
        for c in s.clusters {
            if let u = c.utilization { line("cluster_utilization", "cluster=\"\(esc(c.name))\"", u) }
        }
        family("discovery_refreshes_total", "counter", "Refreshes of the cluster's discovery source, by result (success, error).")
        for c in s.clusters {
            guard let d = c.discovery else { continue }
            line("discovery_refreshes_total", "cluster=\"\(esc(c.name))\",result=\"success\"", d.successes)
            line("discovery_refreshes_total", "cluster=\"\(esc(c.name))\",result=\"error\"", d.errors)
        }
    }

    private static func rateLimited(
        _ s: MetricsSample, _ family: (String, String, String) -> Void, _ line: (String, String, Int) -> Void
    ) {
        var series = s.totals.rateLimited
        for l in s.listeners {
            for c in l.rateLimitedClusters { series[MetricTotals.ListenerCluster(listener: l.name, cluster: c), default: 0] += 0 }
        }
        guard !series.isEmpty else { return }
        family("rate_limited_total", "counter", "Requests refused by a route's rate_limit (429), by listener and cluster.")
        for (k, n) in series.sorted(by: { $0.key < $1.key }) {
            line("rate_limited_total", "listener=\"\(esc(k.listener))\",cluster=\"\(esc(k.cluster))\"", n)
        }
    }

    /// One histogram's series: cumulative buckets, +Inf, sum and count.
    private static func histogram(
        _ name: String, _ labels: String, _ d: DurationHistogram, _ line: (String, String, any CustomStringConvertible) -> Void
    ) {
        var cumulative = 0
        for (i, le) in DurationHistogram.bounds.enumerated() {
            cumulative += d.buckets[i]
            line("\(name)_bucket", "\(labels),le=\"\(le)\"", cumulative)
        }
        cumulative += d.buckets[DurationHistogram.bounds.count]
        line("\(name)_bucket", "\(labels),le=\"+Inf\"", cumulative)
        line("\(name)_sum", labels, d.sum)
        line("\(name)_count", labels, d.count)
    }

    private static func labels(_ c: MetricsSample.Cluster, _ b: MetricsSample.Backend) -> String {
        "cluster=\"\(esc(c.name))\",backend=\"\(esc(b.name))\""
    }

    /// A label value escaped as the format asks: backslash, double quote and line feed.
    static func esc(_ s: String) -> String {
        guard s.unicodeScalars.contains(where: { $0 == "\\" || $0 == "\"" || $0 == "\n" }) else { return s }
        var out = String.UnicodeScalarView()
        for u in s.unicodeScalars {
            switch u {
            case "\\": out.append(contentsOf: "\\\\".unicodeScalars)
            case "\"": out.append(contentsOf: "\\\"".unicodeScalars)
            case "\n": out.append(contentsOf: "\\n".unicodeScalars)
            default: out.append(u)
            }
        }
        return String(out)
    }
}
