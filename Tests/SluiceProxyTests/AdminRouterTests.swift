import Foundation
import SluiceHTTP
import Testing

@testable import SluiceProxy

/// The admin plane without sockets: routing and the token, and the `/status` document.
@Suite struct AdminRouterTests {
    func route(_ m: Method, _ path: String, auth: String? = nil, token: String? = nil) -> AdminRouter.Route {
        AdminRouter.route(m, path, authorization: auth, token: token)
    }

    @Test func everyCallReachesItsCommand() {
        #expect(route(.get, "/healthz") == .run(.healthz))
        #expect(route(.head, "/healthz") == .run(.healthz))
        #expect(route(.get, "/status") == .run(.status))
        #expect(route(.get, "/metrics") == .run(.metrics))
        #expect(route(.get, "/") == .run(.dashboard))
        #expect(route(.post, "/reload") == .run(.reload))
        for action in AdminCommand.BackendAction.allCases {
            #expect(
                route(action.method, "/clusters/app/backends/a1/\(action.rawValue)")
                    == .run(.backend(cluster: "app", backend: "a1", action)))
        }
    }

    @Test func namesArePercentDecoded() {
        #expect(route(.post, "/clusters/my%20app/backends/b%2F1/drain") == .run(.backend(cluster: "my app", backend: "b/1", .drain)))
    }

    @Test func wrongMethodsAndUnknownPathsAreRefused() {
        #expect(route(.get, "/clusters/app/backends/a/drain") == .methodNotAllowed(use: .post))
        #expect(route(.post, "/clusters/app/backends/a/weight") == .methodNotAllowed(use: .put))
        #expect(route(.post, "/clusters/app/backends/a/explode") == .notFound)
        #expect(route(.post, "/clusters/app/pools/a/drain") == .notFound)
        #expect(route(.post, "/clusters/app/backends/a") == .methodNotAllowed(use: .delete))
        #expect(route(.put, "/clusters/app/backends") == .methodNotAllowed(use: .post))
        #expect(route(.post, "/clusters/app/backends") == .run(.addBackend(cluster: "app")))
        #expect(route(.delete, "/clusters/a%20b/backends/x%2Fy") == .run(.removeBackend(cluster: "a b", backend: "x/y")))
        #expect(route(.delete, "/clusters/app/pools/a") == .notFound)
        #expect(route(.post, "/status") == .notFound)
        #expect(route(.get, "/readyz") == .run(.readyz))
        #expect(route(.head, "/readyz") == .run(.readyz))
        #expect(route(.post, "/readyz") == .notFound)
        #expect(route(.head, "/status") == .notFound)
        #expect(route(.get, "/reload") == .notFound)
    }

    @Test func aTokenGuardsEveryCallButGetAndHead() {
        let token = "s3cret"
        #expect(route(.get, "/status", token: token) == .run(.status))
        #expect(route(.head, "/healthz", token: token) == .run(.healthz))
        #expect(route(.post, "/reload", token: token) == .unauthorized)
        #expect(route(.post, "/nowhere", token: token) == .unauthorized, "unauthenticated clients learn no paths")
        #expect(route(.post, "/reload", auth: "Bearer wrong", token: token) == .unauthorized)
        #expect(route(.post, "/reload", auth: "Basic s3cret", token: token) == .unauthorized)
        #expect(route(.post, "/reload", auth: "Bearer s3cre", token: token) == .unauthorized)
        #expect(route(.post, "/reload", auth: "Bearer s3cret!", token: token) == .unauthorized)
        #expect(route(.post, "/reload", auth: "bEaReR s3cret", token: token) == .run(.reload))
        #expect(route(.post, "/reload", auth: "Bearer  s3cret ", token: token) == .run(.reload))
    }
}

/// `/status` from a hand-made sample: its keys, their types and values, as clients read them.
@Suite struct StatusDocumentTests {
    func decode(_ s: MetricsSample) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: StatusDocument(s).json()) as? [String: Any] ?? [:]
    }

    @Test func aNonFiniteNumberDoesNotEmptyTheDocument() throws {
        var s = PrometheusTextTests.sample()
        s.clusters[0].standbyShare = .nan
        let d = try decode(s)
        let clusters = d["clusters"] as? [[String: Any]] ?? []
        #expect(clusters.first?["standby_share"] as? String == "NaN")
        #expect(d["workers"] as? Int == 2)
    }

    @Test func theDocumentHasTheKeysAndTypesClientsRead() throws {
        let d = try decode(PrometheusTextTests.sample())
        #expect(Set(d.keys) == ["config", "workers", "listeners", "clusters", "uptime_seconds"])
        #expect(d["workers"] as? Int == 2)
        #expect(d["uptime_seconds"] as? Int == 42)
        let config = d["config"] as? [String: Any] ?? [:]
        #expect(Set(config.keys) == ["path", "generation", "last_reload"])
        #expect(config["path"] as? String == "/etc/sluice/sluice.yaml")
        #expect(config["generation"] as? Int == 3)
        let last = config["last_reload"] as? [String: Any] ?? [:]
        #expect(last["result"] as? String == "none")
        #expect(last["at"] as? String == "2027-01-15T08:00:00Z", "no reload yet: the start time")
        #expect((last["errors"] as? [String])?.isEmpty == true)

        let listeners = d["listeners"] as? [[String: Any]] ?? []
        #expect(listeners.map { Set($0.keys) } == Array(repeating: ["name", "listen", "tls", "connections_active"], count: 2))
        #expect(listeners.map { $0["name"] as? String } == ["web", "secure"])
        #expect(listeners[1]["tls"] as? Bool == true)
        #expect(listeners[0]["connections_active"] as? Int == 3)

        let clusters = d["clusters"] as? [[String: Any]] ?? []
        let clusterKeys: Set<String> = [
            "name", "balance", "standby_share", "all_down", "queue_depth", "health_check", "backends", "requests_total", "errors_total",
            "duration_sum_seconds", "duration_count",
        ]
        #expect(clusters.map { Set($0.keys) } == [clusterKeys, clusterKeys])
        let app = clusters[0]
        #expect(app["balance"] as? String == "round_robin")
        #expect(app["standby_share"] as? Double == 0.25)
        #expect(app["all_down"] as? Bool == false)
        #expect(app["queue_depth"] as? Int == 2)
        #expect(app["health_check"] as? Bool == true)
        #expect(app["requests_total"] as? Int == 6)
        #expect(app["errors_total"] as? Int == 1)
        #expect(app["duration_sum_seconds"] as? Double == 2.27734375)
        #expect(app["duration_count"] as? Int == 6)

        let backends = app["backends"] as? [[String: Any]] ?? []
        let backendKeys: Set<String> = [
            "name", "address", "tier", "weight", "effective_weight", "state", "active_requests", "requests_total", "ejections",
            "health_checks", "limit", "source",
        ]
        #expect(backends.map { Set($0.keys) } == [backendKeys, backendKeys])
        #expect(backends.map { $0["limit"] as? Int } == [37, 200])
        // A cluster without `limits` has no limit to show.
        let unlimited = (clusters[1]["backends"] as? [[String: Any]] ?? []).first ?? [:]
        #expect(unlimited["name"] as? String == "st1" && unlimited["limit"] == nil)
        #expect(backends.map { $0["tier"] as? String } == ["primary", "standby"])
        #expect(backends.map { $0["state"] as? String } == ["healthy", "unhealthy"])
        #expect(backends[0]["requests_total"] as? Int == 6)
        #expect(backends[1]["ejections"] as? Int == 2)
        let checks = backends[0]["health_checks"] as? [String: Any] ?? [:]
        #expect(Set(checks.keys) == ["passed", "failed"])
        #expect(checks["passed"] as? Int == 7)
    }

    @Test func effectiveWeightIsWholeOnceRampedAndFractionalWhileSlowStartRamps() throws {
        let text = String(decoding: StatusDocument(PrometheusTextTests.sample()).json(), as: UTF8.self)
        #expect(text.contains("\"effective_weight\" : 2,"))
        #expect(text.contains("\"effective_weight\" : 0,"))
        #expect(text.contains("\"effective_weight\" : 0.5,"))
    }

    @Test func aFailedReloadShowsItsErrors() throws {
        var s = PrometheusTextTests.sample()
        s.lastReload = .init(success: false, at: Date(timeIntervalSince1970: 1_800_000_040), errors: ["a.yaml:3: bad"])
        let last = (try decode(s)["config"] as? [String: Any])?["last_reload"] as? [String: Any] ?? [:]
        #expect(last["result"] as? String == "failure")
        #expect(last["at"] as? String == "2027-01-15T08:00:40Z")
        #expect(last["errors"] as? [String] == ["a.yaml:3: bad"])
    }
}
