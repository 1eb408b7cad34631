import Foundation
import Testing

@testable import SluiceProxy

/// The `/metrics` renderer on a hand-made sample: the exact text, family by family.
@Suite struct PrometheusTextTests {
    typealias Key = MetricTotals.RequestKey

    /// Two listeners (one TLS), a cluster with every feature and one with none, a retired
    /// cluster name (`old`) still in the counters.
    static func sample() -> MetricsSample {
        var app = DurationHistogram()
        for s in [0.00390625, 0.0078125, 0.015625, 0.25, 0.5, 1.5] { app.observe(s) }
        var slow = DurationHistogram()
        slow.observe(12)
        let a = MetricsSample.Backend(
            name: "a", address: "10.0.0.1:80", standby: false, weight: 2, scaledEffectiveWeight: 200, state: .healthy, healthy: true,
            activeRequests: 1, responses: [(200, 5), (502, 1)], checksPassed: 7, checksFailed: 1, ejections: 0, limit: 37)
        var aTimed = a
        aTimed.duration.observe(0.002)
        aTimed.duration.observe(0.375)
        let s = MetricsSample.Backend(
            name: "s", address: "10.0.0.2:80", standby: true, weight: 1, scaledEffectiveWeight: 0, state: .unhealthy, healthy: false,
            activeRequests: 0, responses: [], checksPassed: 0, checksFailed: 3, ejections: 2, limit: 200)
        let st = MetricsSample.Backend(
            name: "st1", address: "10.0.0.3:80", standby: false, weight: 1, scaledEffectiveWeight: 50, state: .healthy, healthy: true,
            activeRequests: 0, responses: [(404, 1)], checksPassed: 0, checksFailed: 0, ejections: 0)
        return MetricsSample(
            configPath: "/etc/sluice/sluice.yaml", generation: 3, workers: 2, startedAt: Date(timeIntervalSince1970: 1_800_000_000),
            now: Date(timeIntervalSince1970: 1_800_000_042.7), lastReload: nil, reloadSuccesses: 2, reloadFailures: 1,
            lastReloadSuccess: Date(timeIntervalSince1970: 1_800_000_030),
            listeners: [
                .init(name: "web", listen: "127.0.0.1:8080", tls: false, connections: 3, certificates: []),
                .init(
                    name: "secure", listen: "127.0.0.1:8443", tls: true, connections: 1, certificates: [("/CN=a.example", 1_900_000_000)]),
            ],
            clusters: [
                .init(
                    name: "app", balance: "round_robin", healthChecked: true, outlierDetection: true, retries: true, standbyShare: 0.25,
                    allDown: false, queueDepth: 2, backends: [aTimed, s],
                    traffic: .init(state: "storm", rate10s: 812.5, rate10m: 160.25, etaSeconds: 42)),
                .init(
                    name: "static", balance: "least_request", healthChecked: false, outlierDetection: false, retries: false,
                    standbyShare: 0, allDown: false, queueDepth: 0, backends: [st]),
            ],
            totals: MetricTotals(
                requests: [
                    Key(listener: "web", cluster: "app", code: 200): 5, Key(listener: "web", cluster: "app", code: 502): 1,
                    Key(listener: "web", cluster: "", code: 400): 1, Key(listener: "secure", cluster: "static", code: 404): 1,
                    Key(listener: "web", cluster: "old", code: 200): 2,
                ],
                durations: ["app": app, "static": slow], shed: ["app": [0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 1]], retries: ["app": [3, 0, 1]],
                handshakes: ["secure": [4, 1]]))
    }

    @Test func aSmallSampleRendersExactly() {
        let expected = """
            # HELP sluice_requests_total Requests answered, by listener, cluster and status code.
            # TYPE sluice_requests_total counter
            sluice_requests_total{listener="secure",cluster="static",code="404"} 1
            sluice_requests_total{listener="web",cluster="",code="400"} 1
            sluice_requests_total{listener="web",cluster="app",code="200"} 5
            sluice_requests_total{listener="web",cluster="app",code="502"} 1
            sluice_requests_total{listener="web",cluster="old",code="200"} 2
            # HELP sluice_request_duration_seconds Time from a complete request head to the end of the response, by cluster.
            # TYPE sluice_request_duration_seconds histogram
            sluice_request_duration_seconds_bucket{cluster="app",le="0.001"} 0
            sluice_request_duration_seconds_bucket{cluster="app",le="0.0025"} 0
            sluice_request_duration_seconds_bucket{cluster="app",le="0.005"} 1
            sluice_request_duration_seconds_bucket{cluster="app",le="0.01"} 2
            sluice_request_duration_seconds_bucket{cluster="app",le="0.025"} 3
            sluice_request_duration_seconds_bucket{cluster="app",le="0.05"} 3
            sluice_request_duration_seconds_bucket{cluster="app",le="0.1"} 3
            sluice_request_duration_seconds_bucket{cluster="app",le="0.25"} 4
            sluice_request_duration_seconds_bucket{cluster="app",le="0.5"} 5
            sluice_request_duration_seconds_bucket{cluster="app",le="1.0"} 5
            sluice_request_duration_seconds_bucket{cluster="app",le="2.5"} 6
            sluice_request_duration_seconds_bucket{cluster="app",le="5.0"} 6
            sluice_request_duration_seconds_bucket{cluster="app",le="10.0"} 6
            sluice_request_duration_seconds_bucket{cluster="app",le="+Inf"} 6
            sluice_request_duration_seconds_sum{cluster="app"} 2.27734375
            sluice_request_duration_seconds_count{cluster="app"} 6
            sluice_request_duration_seconds_bucket{cluster="static",le="0.001"} 0
            sluice_request_duration_seconds_bucket{cluster="static",le="0.0025"} 0
            sluice_request_duration_seconds_bucket{cluster="static",le="0.005"} 0
            sluice_request_duration_seconds_bucket{cluster="static",le="0.01"} 0
            sluice_request_duration_seconds_bucket{cluster="static",le="0.025"} 0
            sluice_request_duration_seconds_bucket{cluster="static",le="0.05"} 0
            sluice_request_duration_seconds_bucket{cluster="static",le="0.1"} 0
            sluice_request_duration_seconds_bucket{cluster="static",le="0.25"} 0
            sluice_request_duration_seconds_bucket{cluster="static",le="0.5"} 0
            sluice_request_duration_seconds_bucket{cluster="static",le="1.0"} 0
            sluice_request_duration_seconds_bucket{cluster="static",le="2.5"} 0
            sluice_request_duration_seconds_bucket{cluster="static",le="5.0"} 0
            sluice_request_duration_seconds_bucket{cluster="static",le="10.0"} 0
            sluice_request_duration_seconds_bucket{cluster="static",le="+Inf"} 1
            sluice_request_duration_seconds_sum{cluster="static"} 12.0
            sluice_request_duration_seconds_count{cluster="static"} 1
            # HELP sluice_backend_request_duration_seconds Time of the attempt that the backend answered, from connect to the end of its response.
            # TYPE sluice_backend_request_duration_seconds histogram
            sluice_backend_request_duration_seconds_bucket{cluster="app",backend="a",le="0.001"} 0
            sluice_backend_request_duration_seconds_bucket{cluster="app",backend="a",le="0.0025"} 1
            sluice_backend_request_duration_seconds_bucket{cluster="app",backend="a",le="0.005"} 1
            sluice_backend_request_duration_seconds_bucket{cluster="app",backend="a",le="0.01"} 1
            sluice_backend_request_duration_seconds_bucket{cluster="app",backend="a",le="0.025"} 1
            sluice_backend_request_duration_seconds_bucket{cluster="app",backend="a",le="0.05"} 1
            sluice_backend_request_duration_seconds_bucket{cluster="app",backend="a",le="0.1"} 1
            sluice_backend_request_duration_seconds_bucket{cluster="app",backend="a",le="0.25"} 1
            sluice_backend_request_duration_seconds_bucket{cluster="app",backend="a",le="0.5"} 2
            sluice_backend_request_duration_seconds_bucket{cluster="app",backend="a",le="1.0"} 2
            sluice_backend_request_duration_seconds_bucket{cluster="app",backend="a",le="2.5"} 2
            sluice_backend_request_duration_seconds_bucket{cluster="app",backend="a",le="5.0"} 2
            sluice_backend_request_duration_seconds_bucket{cluster="app",backend="a",le="10.0"} 2
            sluice_backend_request_duration_seconds_bucket{cluster="app",backend="a",le="+Inf"} 2
            sluice_backend_request_duration_seconds_sum{cluster="app",backend="a"} 0.377
            sluice_backend_request_duration_seconds_count{cluster="app",backend="a"} 2
            sluice_backend_request_duration_seconds_bucket{cluster="app",backend="s",le="0.001"} 0
            sluice_backend_request_duration_seconds_bucket{cluster="app",backend="s",le="0.0025"} 0
            sluice_backend_request_duration_seconds_bucket{cluster="app",backend="s",le="0.005"} 0
            sluice_backend_request_duration_seconds_bucket{cluster="app",backend="s",le="0.01"} 0
            sluice_backend_request_duration_seconds_bucket{cluster="app",backend="s",le="0.025"} 0
            sluice_backend_request_duration_seconds_bucket{cluster="app",backend="s",le="0.05"} 0
            sluice_backend_request_duration_seconds_bucket{cluster="app",backend="s",le="0.1"} 0
            sluice_backend_request_duration_seconds_bucket{cluster="app",backend="s",le="0.25"} 0
            sluice_backend_request_duration_seconds_bucket{cluster="app",backend="s",le="0.5"} 0
            sluice_backend_request_duration_seconds_bucket{cluster="app",backend="s",le="1.0"} 0
            sluice_backend_request_duration_seconds_bucket{cluster="app",backend="s",le="2.5"} 0
            sluice_backend_request_duration_seconds_bucket{cluster="app",backend="s",le="5.0"} 0
            sluice_backend_request_duration_seconds_bucket{cluster="app",backend="s",le="10.0"} 0
            sluice_backend_request_duration_seconds_bucket{cluster="app",backend="s",le="+Inf"} 0
            sluice_backend_request_duration_seconds_sum{cluster="app",backend="s"} 0.0
            sluice_backend_request_duration_seconds_count{cluster="app",backend="s"} 0
            sluice_backend_request_duration_seconds_bucket{cluster="static",backend="st1",le="0.001"} 0
            sluice_backend_request_duration_seconds_bucket{cluster="static",backend="st1",le="0.0025"} 0
            sluice_backend_request_duration_seconds_bucket{cluster="static",backend="st1",le="0.005"} 0
            sluice_backend_request_duration_seconds_bucket{cluster="static",backend="st1",le="0.01"} 0
            sluice_backend_request_duration_seconds_bucket{cluster="static",backend="st1",le="0.025"} 0
            sluice_backend_request_duration_seconds_bucket{cluster="static",backend="st1",le="0.05"} 0
            sluice_backend_request_duration_seconds_bucket{cluster="static",backend="st1",le="0.1"} 0
            sluice_backend_request_duration_seconds_bucket{cluster="static",backend="st1",le="0.25"} 0
            sluice_backend_request_duration_seconds_bucket{cluster="static",backend="st1",le="0.5"} 0
            sluice_backend_request_duration_seconds_bucket{cluster="static",backend="st1",le="1.0"} 0
            sluice_backend_request_duration_seconds_bucket{cluster="static",backend="st1",le="2.5"} 0
            sluice_backend_request_duration_seconds_bucket{cluster="static",backend="st1",le="5.0"} 0
            sluice_backend_request_duration_seconds_bucket{cluster="static",backend="st1",le="10.0"} 0
            sluice_backend_request_duration_seconds_bucket{cluster="static",backend="st1",le="+Inf"} 0
            sluice_backend_request_duration_seconds_sum{cluster="static",backend="st1"} 0.0
            sluice_backend_request_duration_seconds_count{cluster="static",backend="st1"} 0
            # HELP sluice_backend_healthy 1 when the backend passes its health checks (or has none).
            # TYPE sluice_backend_healthy gauge
            sluice_backend_healthy{cluster="app",backend="a",tier="primary"} 1
            sluice_backend_healthy{cluster="app",backend="s",tier="standby"} 0
            sluice_backend_healthy{cluster="static",backend="st1",tier="primary"} 1
            # HELP sluice_backend_active_requests Requests in flight to the backend.
            # TYPE sluice_backend_active_requests gauge
            sluice_backend_active_requests{cluster="app",backend="a"} 1
            sluice_backend_active_requests{cluster="app",backend="s"} 0
            sluice_backend_active_requests{cluster="static",backend="st1"} 0
            # HELP sluice_backend_limit Requests the backend may have in flight now (limits; adaptive or fixed).
            # TYPE sluice_backend_limit gauge
            sluice_backend_limit{cluster="app",backend="a"} 37
            sluice_backend_limit{cluster="app",backend="s"} 200
            # HELP sluice_backend_requests_total Responses from the backend, by status code.
            # TYPE sluice_backend_requests_total counter
            sluice_backend_requests_total{cluster="app",backend="a",code="200"} 5
            sluice_backend_requests_total{cluster="app",backend="a",code="502"} 1
            sluice_backend_requests_total{cluster="static",backend="st1",code="404"} 1
            # HELP sluice_health_checks_total Active health checks, by result.
            # TYPE sluice_health_checks_total counter
            sluice_health_checks_total{cluster="app",backend="a",result="pass"} 7
            sluice_health_checks_total{cluster="app",backend="a",result="fail"} 1
            sluice_health_checks_total{cluster="app",backend="s",result="pass"} 0
            sluice_health_checks_total{cluster="app",backend="s",result="fail"} 3
            # HELP sluice_outlier_ejections_total Outlier ejections, by backend.
            # TYPE sluice_outlier_ejections_total counter
            sluice_outlier_ejections_total{cluster="app",backend="a"} 0
            sluice_outlier_ejections_total{cluster="app",backend="s"} 2
            # HELP sluice_failover_standby_share Share of new requests sent to the standby tier (0 to 1).
            # TYPE sluice_failover_standby_share gauge
            sluice_failover_standby_share{cluster="app"} 0.25
            sluice_failover_standby_share{cluster="static"} 0.0
            # HELP sluice_queue_depth Requests waiting for a backend slot (limits), by cluster.
            # TYPE sluice_queue_depth gauge
            sluice_queue_depth{cluster="app"} 2
            sluice_queue_depth{cluster="static"} 0
            # HELP sluice_shed_total Requests refused for lack of capacity (503), by cluster, reason and route priority.
            # TYPE sluice_shed_total counter
            sluice_shed_total{cluster="app",reason="queue_full",priority="critical"} 0
            sluice_shed_total{cluster="app",reason="queue_full",priority="normal"} 1
            sluice_shed_total{cluster="app",reason="queue_full",priority="sheddable"} 0
            sluice_shed_total{cluster="app",reason="queue_timeout",priority="critical"} 0
            sluice_shed_total{cluster="app",reason="queue_timeout",priority="normal"} 0
            sluice_shed_total{cluster="app",reason="queue_timeout",priority="sheddable"} 0
            sluice_shed_total{cluster="app",reason="overload",priority="critical"} 0
            sluice_shed_total{cluster="app",reason="overload",priority="normal"} 0
            sluice_shed_total{cluster="app",reason="overload",priority="sheddable"} 0
            sluice_shed_total{cluster="app",reason="no_backend",priority="critical"} 2
            sluice_shed_total{cluster="app",reason="no_backend",priority="normal"} 0
            sluice_shed_total{cluster="app",reason="no_backend",priority="sheddable"} 1
            sluice_shed_total{cluster="static",reason="queue_full",priority="critical"} 0
            sluice_shed_total{cluster="static",reason="queue_full",priority="normal"} 0
            sluice_shed_total{cluster="static",reason="queue_full",priority="sheddable"} 0
            sluice_shed_total{cluster="static",reason="queue_timeout",priority="critical"} 0
            sluice_shed_total{cluster="static",reason="queue_timeout",priority="normal"} 0
            sluice_shed_total{cluster="static",reason="queue_timeout",priority="sheddable"} 0
            sluice_shed_total{cluster="static",reason="overload",priority="critical"} 0
            sluice_shed_total{cluster="static",reason="overload",priority="normal"} 0
            sluice_shed_total{cluster="static",reason="overload",priority="sheddable"} 0
            sluice_shed_total{cluster="static",reason="no_backend",priority="critical"} 0
            sluice_shed_total{cluster="static",reason="no_backend",priority="normal"} 0
            sluice_shed_total{cluster="static",reason="no_backend",priority="sheddable"} 0
            # HELP sluice_traffic_rate Requests per second arriving for the cluster, over the last 10 s and its 10-minute level.
            # TYPE sluice_traffic_rate gauge
            sluice_traffic_rate{cluster="app",window="10s"} 812.5
            sluice_traffic_rate{cluster="app",window="10m"} 160.25
            # HELP sluice_traffic_state 1 for the cluster's traffic state now (calm, rising, storm), 0 for the others.
            # TYPE sluice_traffic_state gauge
            sluice_traffic_state{cluster="app",state="calm"} 0
            sluice_traffic_state{cluster="app",state="rising"} 0
            sluice_traffic_state{cluster="app",state="storm"} 1
            # HELP sluice_saturation_eta_seconds Seconds until the cluster's capacity runs out at the current growth.
            # TYPE sluice_saturation_eta_seconds gauge
            sluice_saturation_eta_seconds{cluster="app"} 42.0
            # HELP sluice_cluster_utilization Requests in flight and queued over the limits of the backends that may take requests (clusters with limits).
            # TYPE sluice_cluster_utilization gauge
            # HELP sluice_discovery_refreshes_total Refreshes of the cluster's discovery source, by result (success, error).
            # TYPE sluice_discovery_refreshes_total counter
            # HELP sluice_retries_total Requests tried again on another backend, by cluster and reason.
            # TYPE sluice_retries_total counter
            sluice_retries_total{cluster="app",reason="connect_failure"} 3
            sluice_retries_total{cluster="app",reason="reset_before_response"} 0
            sluice_retries_total{cluster="app",reason="status"} 1
            # HELP sluice_tls_handshakes_total TLS handshakes on TLS listeners, by result.
            # TYPE sluice_tls_handshakes_total counter
            sluice_tls_handshakes_total{listener="secure",result="success"} 4
            sluice_tls_handshakes_total{listener="secure",result="failure"} 1
            # HELP sluice_tls_certificate_expiry_timestamp_seconds When each listener certificate expires.
            # TYPE sluice_tls_certificate_expiry_timestamp_seconds gauge
            sluice_tls_certificate_expiry_timestamp_seconds{listener="secure",name="/CN=a.example"} 1900000000
            # HELP sluice_connections_active Open client connections, by listener.
            # TYPE sluice_connections_active gauge
            sluice_connections_active{listener="web"} 3
            sluice_connections_active{listener="secure"} 1
            # HELP sluice_config_reloads_total Configuration reloads, by result.
            # TYPE sluice_config_reloads_total counter
            sluice_config_reloads_total{result="success"} 2
            sluice_config_reloads_total{result="failure"} 1
            # HELP sluice_config_last_reload_success_timestamp_seconds When the configuration last loaded successfully.
            # TYPE sluice_config_last_reload_success_timestamp_seconds gauge
            sluice_config_last_reload_success_timestamp_seconds 1800000030

            """
        let text = PrometheusText.render(Self.sample())
        #expect(text == expected)
        if text != expected {
            for (got, want) in zip(text.split(separator: "\n"), expected.split(separator: "\n")) where got != want {
                Issue.record("first difference: \(got) ≠ \(want)")
                break
            }
        }
    }

    @Test func labelValuesEscapeBackslashQuoteAndLineFeed() {
        var s = Self.sample()
        s.clusters = []
        s.listeners = [.init(name: "a\"b\\c\nd\r\ne", listen: "x", tls: false, connections: 0, certificates: [])]
        s.totals = MetricTotals()
        #expect(PrometheusText.render(s).contains("sluice_connections_active{listener=\"a\\\"b\\\\c\\nd\r\\ne\"} 0\n"))
        #expect(PrometheusText.esc("plain") == "plain")
    }

    @Test func utilizationAndDiscoveryRefreshesPerCluster() {
        var s = Self.sample()
        s.clusters[0].utilization = 0.375
        s.clusters[0].discovery = MetricsSample.Discovery(
            kind: "dns", detail: "app.internal:8000", successes: 7, errors: 2, lastResult: "error", lastAt: nil,
            lastError: "timeout", answered: 3, heldBack: 0)
        let text = PrometheusText.render(s)
        let name = s.clusters[0].name
        #expect(text.contains("sluice_cluster_utilization{cluster=\"\(name)\"} 0.375\n"))
        #expect(text.contains("sluice_discovery_refreshes_total{cluster=\"\(name)\",result=\"success\"} 7\n"))
        #expect(text.contains("sluice_discovery_refreshes_total{cluster=\"\(name)\",result=\"error\"} 2\n"))
        #expect(text.components(separatedBy: "sluice_discovery_refreshes_total{").count - 1 == 2, "only the cluster with discovery")
    }

    @Test func emptyFamiliesStillAnnounceTheirType() {
        var s = Self.sample()
        s.clusters = []
        s.listeners = []
        s.totals = MetricTotals()
        let text = PrometheusText.render(s)
        #expect(text.components(separatedBy: "# TYPE ").count - 1 == 23)
        #expect(text.split(separator: "\n").filter { !$0.hasPrefix("#") }.count == 3)
    }
}
