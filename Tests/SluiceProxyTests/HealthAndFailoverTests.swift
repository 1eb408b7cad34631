import Foundation
import Glibc
import SluiceBackend
import SluiceConfig
import Testing

/// Active health checks, failover to standby and back, `when_all_down`, through the proxy.
@Suite struct HealthAndFailoverProxyTests {
    static let fastChecks = "    health_check: { interval: 100ms, timeout: 100ms, rise: 1, fall: 1, jitter: 0% }"

    func eventually(_ timeout: TimeInterval = 10, _ condition: () throws -> Bool) rethrows -> Bool {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            if try condition() { return true }
            usleep(50_000)
        }
        return try condition()
    }

    func shares(_ port: Int, _ n: Int) throws -> [String: Int] {
        var c = try TestClient(port: port)
        var counts: [String: Int] = [:]
        for _ in 0..<n {
            let r = try c.request("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
            counts[r.status == 200 ? (r.header("X-Backend") ?? "?") : "\(r.status)", default: 0] += 1
            if r.header("Connection") == "close" { c = try TestClient(port: port) }
        }
        return counts
    }

    @Test func aStoppedBackendLeavesAndComesBackWhenItRecovers() throws {
        let a = try backend("a")
        let b = try backend("b")
        let proxy = try ProxyFixture.simple([a, b], cluster: Self.fastChecks)
        #expect(try shares(proxy.port, 20) == ["a": 10, "b": 10])
        b.stop()
        #expect(try eventually { try shares(proxy.port, 10) == ["a": 10] })
        try b.start()
        #expect(try eventually { (try shares(proxy.port, 10)["b"] ?? 0) > 0 })
    }

    @Test func failoverSpillsToStandbyInProportionAndFailsBack() throws {
        let a = try backend("a")
        let b = try backend("b")
        let c = try backend("c")
        let s = try backend("s")
        let yaml = """
            workers: 1
            access_log: { path: off }
            listeners:
              - { name: web, listen: 127.0.0.1:0, routes: [ { cluster: app } ] }
            clusters:
              - name: app
                backends:
                  - { name: a, address: 127.0.0.1:\(a.port), weight: 5 }
                  - { name: b, address: 127.0.0.1:\(b.port), weight: 3 }
                  - { name: c, address: 127.0.0.1:\(c.port), weight: 1 }
                standby:
                  - { name: s, address: 127.0.0.1:\(s.port) }
                failover: { overprovisioning: 1.4 }
            \(Self.fastChecks)
            """
        let proxy = try ProxyFixture(yaml)
        // All primaries healthy: the standby is idle.
        #expect(try shares(proxy.port, 90)["s"] == nil)
        // The weight-5 primary fails its checks: 4/9 healthy x 1.4 = 62.2% stay, 37.8% spill.
        a.behavior = BackendBehavior(healthy: false)
        #expect(try eventually { (try shares(proxy.port, 20)["a"] ?? 0) == 0 })
        let counts = try shares(proxy.port, 1000)
        let standby = Double(counts["s"] ?? 0) / 1000
        #expect(abs(standby - (1 - 1.4 * 4 / 9)) < 0.06, "\(counts)")
        #expect(counts["a"] == nil)
        // Failback: the primary recovers and the standby goes idle again.
        a.behavior = BackendBehavior(healthy: true)
        #expect(try eventually { try shares(proxy.port, 90)["s"] == nil })
    }

    @Test func whenAllDownRejectAnswers503AndFailOpenStillTries() throws {
        for (mode, expected) in [("reject", 503), ("fail_open", 200)] {
            let a = try backend("a", BackendBehavior(healthy: false))
            let proxy = try ProxyFixture.simple(
                [a], cluster: "    failover: { when_all_down: \(mode) }\n" + Self.fastChecks)
            #expect(try eventually { try get(proxy.port, "/").status == expected }, "\(mode)")
            let r = try get(proxy.port, "/")
            if expected == 503 {
                #expect(r.header("Retry-After") != nil)
            }
        }
    }

    @Test func expectStatusAndBodyDecideAPass() throws {
        let a = try backend("a")
        let b = try backend("b")
        // /headers answers 200 with the request head as body: it contains "sluice-health-check".
        let proxy = try ProxyFixture.simple(
            [a, b],
            cluster: """
                    health_check: { path: /headers, interval: 100ms, timeout: 100ms, rise: 1, fall: 1, expect_status: [200], expect_body: sluice-health-check }
                """)
        #expect(try shares(proxy.port, 10).count == 2)
        let strict = try ProxyFixture.simple(
            [a, b],
            cluster: """
                    health_check: { path: /headers, interval: 100ms, timeout: 100ms, rise: 1, fall: 1, expect_body: not-there }
                    failover: { when_all_down: reject }
                """)
        #expect(try eventually { try get(strict.port, "/").status == 503 })
    }

    @Test func aBackendAddedByReloadWaitsForItsFirstPasses() throws {
        let a = try backend("a")
        let b = try backend("b", BackendBehavior(healthy: false))
        // fall: 3 — a backend that wrongly started healthy would keep traffic for 3 failed checks.
        let checks = "    health_check: { interval: 300ms, timeout: 200ms, rise: 1, fall: 3, jitter: 0% }"
        func config(_ names: [DemoBackend]) throws -> Config {
            let list = names.map { "      - { name: \($0.name), address: 127.0.0.1:\($0.port) }" }.joined(separator: "\n")
            return try ConfigLoader.parse(
                """
                workers: 1
                access_log: { path: off }
                listeners:
                  - { name: web, listen: 127.0.0.1:0, routes: [ { cluster: app } ] }
                clusters:
                  - name: app
                    backends:
                \(list)
                \(checks)
                """, file: "test.yaml")
        }
        let proxy = try ProxyFixture(
            """
            workers: 1
            access_log: { path: off }
            listeners:
              - { name: web, listen: 127.0.0.1:0, routes: [ { cluster: app } ] }
            clusters:
              - name: app
                backends:
                  - { name: a, address: 127.0.0.1:\(a.port) }
            \(checks)
            """)
        try proxy.server.reload(config([a, b]))
        #expect(proxy.server.generation == 2)
        // "b" was never checked before the reload: it waits for a passing check, and its checks
        // fail, so for many check intervals every request still goes to "a".
        let end = Date().addingTimeInterval(1)
        var during: [String: Int] = [:]
        while Date() < end {
            for (k, v) in try shares(proxy.port, 10) { during[k, default: 0] += v }
            usleep(20_000)
        }
        #expect(during.keys.sorted() == ["a"], "\(during)")
        // Its first passing check puts it in rotation: the reload did add it.
        b.behavior = BackendBehavior(healthy: true)
        #expect(try eventually { (try shares(proxy.port, 10)["b"] ?? 0) > 0 })
    }
}
