/// The configs each target gets for a case: the same backends and per-backend limit, and each
/// balancer's closest equivalent of the issue-8 feature the case measures. Pure; any thread.
///
/// | case | sluice | HAProxy 2.6 | nginx 1.22 (free) |
/// |---|---|---|---|
/// | all | `max_requests_per_backend` + queue (`queue_timeout`, `queue_target`), 503 + Retry-After | server `maxconn` + `timeout queue`; 503 from the queue gets a fixed `Retry-After: 1` (`http-after-response`) | `max_conns` (per worker; no queue in the free version); a global `limit_req` at the backends' capacity with a small burst queue, 503 with a fixed `Retry-After: 1` |
/// | mix | route `priority: critical` / `sheddable` | `http-request set-priority-class` (queue order only) | no priorities: the `limit_req` applies to browsing only, checkout passes unlimited |
/// | slowdown | `limits.adaptive: true` | nothing adaptive: static `maxconn` | nothing adaptive: static `max_conns` |
/// | abuser | route `rate_limit` on `header:X-Client-Id`, 429 + exact Retry-After | `stick-table` + `sc_http_req_rate` + `http-request deny deny_status 429` (fixed `Retry-After: 1`) | `limit_req_zone $http_x_client_id` + `limit_req_status 429` (fixed `Retry-After: 1`) |
/// | hot-page | route `cache:` (coalesce, stale while revalidating, on error, when overloaded) | `cache` section, `cache-use` / `cache-store`: no stale serving, no coalescing | `proxy_cache` + `proxy_cache_lock` + `proxy_cache_use_stale` + `proxy_cache_background_update` + `proxy_cache_revalidate`; no `limit_req` (it would hold back the hits too) |
///
/// The cache parts are in `CaseConfigs+Cache.swift`.
public enum CaseConfigs {
    /// What a config depends on: the case (nil: the classic spike scenario, plain limits and
    /// nothing else), the per-backend limit, the backends' capacity, the per-client limit.
    public struct Input: Sendable, Equatable {
        public var benchCase: BenchCase?
        public var perBackend: Int
        public var capacity: Int
        public var rateLimit = 1
        public var burst = 1
        public var adaptive = false
        /// The hot-page case: every target caches (nil: none does).
        public var cache: CacheSettings?

        public init(plan: CasePlan) {
            benchCase = plan.benchCase
            perBackend = plan.parameters.backendConcurrency
            capacity = plan.parameters.capacity
            rateLimit = plan.rateLimitPerClient ?? 1
            burst = plan.rateLimitBurst ?? 1
            adaptive = plan.adaptive
            cache = plan.cache
        }

        /// The classic spike scenario: the built-in backends' limit, or 1000 for real upstreams.
        public init(scenario: Scenario) {
            benchCase = nil
            perBackend = scenario.upstreams.isEmpty ? scenario.backendConcurrency : 1000
            capacity = scenario.backendCapacity
        }
    }

    /// Names and addresses of the backends as configs list them.
    static func named(_ backends: [String]) -> [(name: String, address: String)] {
        backends.enumerated().map { (name: "b\($0.offset + 1)", address: $0.element) }
    }

    public static func sluice(_ plan: Input, port: Int, backends: [String], workers: Int) -> String {
        var routes: [String] = []
        switch plan.benchCase {
        case .mix:
            routes.append("      - { match: { path_prefix: /checkout/ }, cluster: app, priority: critical }")
            routes.append("      - { match: { path_prefix: /products/ }, cluster: app, priority: sheddable }")
        case .abuser:
            let rl = "{ key: \"header:X-Client-Id\", rate: \(plan.rateLimit)/s, burst: \(plan.burst) }"
            routes.append("      - { match: { path_prefix: /products/ }, cluster: app, rate_limit: \(rl) }")
        case .hotPage:
            if let c = plan.cache { routes.append(sluiceCacheRoute(c)) }
        case .flashSale, .slowdown, nil:
            break
        }
        routes.append("      - { match: { path_prefix: / }, cluster: app }")
        let list = named(backends).map { "      - { name: \($0.name), address: \($0.address) }" }
        let adaptive = plan.adaptive ? ", adaptive: true" : ""
        return """
            workers: \(workers)
            admin: { listen: 127.0.0.1:0 }
            access_log: { path: off }
            limits: { max_connections: 9000 }
            timeouts: { client_idle: 75s }
            listeners:
              - name: web
                listen: 127.0.0.1:\(port)
                routes:
            \(routes.joined(separator: "\n"))
            clusters:
              - name: app
                backends:
            \(list.joined(separator: "\n"))
                limits: { max_requests_per_backend: \(plan.perBackend), max_queue: 1024, queue_timeout: 1s\(adaptive) }
            \(plan.cache == nil ? "" : sluiceCacheMemory + "\n")
            """
    }

    public static func haproxy(_ plan: Input, port: Int, backends: [String], workers: Int) -> String {
        var rules: [String] = []
        switch plan.benchCase {
        case .mix:
            // Lower class = dequeued first; only the order in the queue, no reservation.
            rules.append("    http-request set-priority-class int(-10) if { path_beg /checkout/ }")
            rules.append("    http-request set-priority-class int(10) if { path_beg /products/ }")
        case .abuser:
            rules.append("    stick-table type string len 64 size 100k expire 30s store http_req_rate(1s)")
            rules.append("    http-request track-sc0 req.hdr(X-Client-Id)")
            rules.append(
                "    http-request deny deny_status 429 hdr Retry-After 1 if { sc_http_req_rate(0) gt \(plan.rateLimit) }")
        case .hotPage:
            rules += haproxyCacheRules
        case .flashSale, .slowdown, nil:
            break
        }
        if plan.benchCase != nil {
            rules.append("    http-after-response set-header Retry-After 1 if { status 503 } !{ res.hdr(Retry-After) -m found }")
        }
        let list = named(backends).map { "    server \($0.name) \($0.address) maxconn \(plan.perBackend)" }
        return """
            global
                nbthread \(workers)
                maxconn 9000
            defaults
                mode http
                timeout connect 2s
                timeout client 60s
                timeout server 30s
                timeout queue 1s
                option http-keep-alive
                option forwardfor
                http-reuse always
            frontend fe
                bind 127.0.0.1:\(port)
            \(rules.joined(separator: "\n"))
                default_backend be
            backend be
                balance roundrobin
            \(list.joined(separator: "\n"))
            \(plan.cache.map { haproxyCacheSection($0) + "\n" } ?? "")
            """
    }

    public static func nginx(_ plan: Input, port: Int, backends: [String], workers: Int, workDir: String) -> String {
        // The whole load, or browsing only in the mix, is held to the backends' capacity.
        let capacity = plan.capacity
        var zones = ["    limit_req_zone $binary_remote_addr zone=capacity:1m rate=\(capacity)r/s;"]
        var limited = "            limit_req zone=capacity burst=\(capacity / 10);\n            limit_req_status 503;"
        var checkout = ""
        switch plan.benchCase {
        case .mix:
            let browse = capacity * 9 / 10
            zones = ["    limit_req_zone $binary_remote_addr zone=capacity:1m rate=\(browse)r/s;"]
            limited = "            limit_req zone=capacity burst=\(browse / 10);\n            limit_req_status 503;"
            checkout = """
                        location /checkout/ {
                            proxy_pass http://be;
                            proxy_http_version 1.1;
                            proxy_set_header Connection "";
                            proxy_next_upstream error timeout http_502 http_503;
                        }

                """
        case .abuser:
            zones.append("    limit_req_zone $http_x_client_id zone=perclient:10m rate=\(plan.rateLimit)r/s;")
            limited = """
                            limit_req zone=perclient burst=\(plan.burst) nodelay;
                            limit_req_status 429;
                """
        case .hotPage:
            // A request rate limit runs before the cache and would refuse the hits too.
            zones = plan.cache.map { [nginxCachePath($0, workDir: workDir)] } ?? []
            limited = nginxCacheDirectives
        case .flashSale, .slowdown:
            break
        case nil:
            // The classic spike scenario: max_conns only, as documented in §2 of benchmarks.md.
            zones = []
            limited = ""
        }
        let errorPages =
            plan.benchCase == nil
            ? ""
            : """
                    error_page 429 @throttled;
                    error_page 503 @busy;
                    location @busy { add_header Retry-After 1 always; return 503 "busy\\n"; }
                    location @throttled { add_header Retry-After 1 always; return 429 "slow down\\n"; }

            """
        let list = backends.map { "        server \($0) max_conns=\(plan.perBackend);" }
        return """
            worker_processes \(workers);
            daemon off;
            master_process off;
            error_log /dev/null;
            pid \(workDir)/nginx.pid;
            events { worker_connections 9000; }
            http {
                access_log off;
            \(zones.joined(separator: "\n"))
                upstream be {
            \(list.joined(separator: "\n"))
                    keepalive 512;
                }
                server {
                    listen 127.0.0.1:\(port);
            \(errorPages)\(checkout)        location / {
            \(limited)
                        proxy_pass http://be;
                        proxy_http_version 1.1;
                        proxy_set_header Connection "";
                        proxy_next_upstream error timeout http_502 http_503;
                    }
                }
            }

            """
    }
}
