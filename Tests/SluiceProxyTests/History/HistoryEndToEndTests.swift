import Foundation
import Glibc
import SluiceBackend
import Testing

/// `/history` and the new metrics through the real binary with two workers: points appear
/// each second from the traffic, a backend made sick is an event on the time axis, and a
/// backend's latency is measured on its own.
@Suite(.serialized) struct HistoryEndToEndTests {
    func history(_ admin: Int, _ query: String = "") throws -> [String: Any] {
        let r = try get(admin, "/history\(query)")
        #expect(r.status == 200)
        return try JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any] ?? [:]
    }

    func cluster(_ doc: [String: Any]) -> [String: Any] {
        (doc["clusters"] as? [[String: Any]])?.first ?? [:]
    }

    @Test func pointsEventsAndPerBackendLatency() throws {
        let fast = try backend("fast")
        let slow = try backend("slow", BackendBehavior(delay: 30_000_000))
        let sluice = try SluiceProcess(
            yaml: """
                workers: 2
                access_log: { path: off }
                listeners:
                  - { name: web, listen: 127.0.0.1:0, routes: [ { cluster: app } ] }
                clusters:
                  - name: app
                    balance: round_robin
                    health_check: { path: /health, interval: 200ms, timeout: 150ms, rise: 1, fall: 1 }
                    backends:
                      - { name: fast, address: 127.0.0.1:\(fast.port) }
                      - { name: slow, address: 127.0.0.1:\(slow.port) }
                """)
        defer {
            sluice.signal(SIGTERM)
            _ = sluice.waitForExit(timeout: 10)
        }
        let port = try sluice.port(of: "web")
        let admin = try sluice.adminPort()
        // About 3 s of traffic, 40 requests a second.
        let until = Date().addingTimeInterval(3)
        var sent = 0
        while Date() < until {
            #expect(try get(port, "/").status == 200)
            sent += 1
            usleep(25_000)
        }
        usleep(1_100_000)  // the tick after the last request
        let doc = try history(admin)
        let points = try #require(cluster(doc)["points"] as? [String: Any])
        let t = try #require(points["t"] as? [Double])
        #expect(t.count >= 3, "one point a second since the start")
        let ok = try #require(points["2xx"] as? [Int])
        #expect(ok.count == t.count)
        #expect(ok.reduce(0, +) == sent, "every answer is in one second's point")
        let p99 = (points["p99"] as? [Any])?.compactMap { $0 as? Double } ?? []
        #expect(!p99.isEmpty && p99.allSatisfy { $0 > 0 && $0 < 1 })

        // The slow backend's latency shows on its own: its p50 is above 30 ms, the fast one's below.
        let backends = try #require(cluster(doc)["backends"] as? [[String: Any]])
        func p50s(_ name: String) -> [Double] {
            let b = backends.first { $0["name"] as? String == name }
            return ((b?["points"] as? [String: Any])?["p50"] as? [Any])?.compactMap { $0 as? Double } ?? []
        }
        #expect(!p50s("slow").isEmpty && p50s("slow").allSatisfy { $0 >= 0.025 }, "\(p50s("slow"))")
        #expect(!p50s("fast").isEmpty && p50s("fast").allSatisfy { $0 < 0.025 }, "\(p50s("fast"))")
        let metrics = String(decoding: try get(admin, "/metrics").body, as: UTF8.self)
        #expect(metrics.contains("sluice_backend_request_duration_seconds_bucket{cluster=\"app\",backend=\"slow\",le=\"0.025\"} 0\n"))
        #expect(metrics.contains("sluice_traffic_state{cluster=\"app\",state=\"calm\"} 1\n"))
        #expect(metrics.contains("sluice_traffic_rate{cluster=\"app\",window=\"10s\"}"))

        // A sick backend is an event with its name, and its row says so.
        let before = t.last!
        fast.behavior = BackendBehavior(healthy: false)
        let deadline = Date().addingTimeInterval(5)
        var events: [[String: Any]] = []
        while Date() < deadline {
            events = (try history(admin, "?since=\(before)")["events"] as? [[String: Any]]) ?? []
            if !events.isEmpty { break }
            usleep(200_000)
        }
        let sick = try #require(events.first { $0["kind"] as? String == "health" })
        #expect(sick["backend"] as? String == "fast")
        #expect(sick["cluster"] as? String == "app")
        #expect(sick["text"] as? String == "fast: healthy → unhealthy")
        let now = try history(admin, "?seconds=5")
        let rows = (cluster(now)["backends"] as? [[String: Any]]) ?? []
        #expect(rows.first { $0["name"] as? String == "fast" }?["state"] as? String == "unhealthy")
        #expect(((cluster(now)["points"] as? [String: Any])?["t"] as? [Double])?.count ?? 0 <= 5)
        #expect(try get(admin, "/history?seconds=zero").status == 400)
    }

    @Test func aFailedReloadIsAnEventWithItsFirstError() throws {
        let a = try backend("a")
        let yaml = """
            workers: 1
            access_log: { path: off }
            listeners:
              - { name: web, listen: 127.0.0.1:0, routes: [ { cluster: app } ] }
            clusters:
              - name: app
                backends: [ { name: a, address: 127.0.0.1:\(a.port) } ]
            """
        let sluice = try SluiceProcess(yaml: yaml)
        defer {
            sluice.signal(SIGTERM)
            _ = sluice.waitForExit(timeout: 10)
        }
        let admin = try sluice.adminPort()
        try "clusters: [ { name: app, bogus: 1 } ]\n".write(toFile: sluice.configPath, atomically: true, encoding: .utf8)
        sluice.signal(SIGHUP)
        let deadline = Date().addingTimeInterval(5)
        var reload: [String: Any]? = nil
        while Date() < deadline && reload == nil {
            reload = ((try history(admin)["events"] as? [[String: Any]]) ?? []).first { $0["kind"] as? String == "reload" }
            usleep(100_000)
        }
        let text = try #require(reload?["text"] as? String)
        #expect(text.hasPrefix("reload failed ("), "\(text)")
        #expect(text.contains(":1:"), "the first error has its FILE:LINE: \(text)")
    }
}
