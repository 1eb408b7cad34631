import Foundation
import Glibc
import SluiceBackend
import Testing

/// Passive health through the proxy: failing backends leave between health checks.
@Suite struct OutlierDetectionTests {
    func statuses(_ port: Int, _ n: Int) throws -> [Int] {
        var c = try TestClient(port: port)
        var out: [Int] = []
        for _ in 0..<n {
            let r = try c.request("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
            out.append(r.status)
            if r.header("Connection") == "close" { c = try TestClient(port: port) }
        }
        return out
    }

    /// GETs one at a time until one answers `status`; the seconds that took (nil past `timeout`).
    func secondsUntil(_ status: Int, _ port: Int, timeout: TimeInterval = 10) throws -> TimeInterval? {
        let start = Date()
        let c = try TestClient(port: port)
        while Date().timeIntervalSince(start) < timeout {
            if try c.request("GET / HTTP/1.1\r\nHost: a\r\n\r\n").status == status { return Date().timeIntervalSince(start) }
            usleep(5_000)
        }
        return nil
    }

    @Test func consecutive5xxEjectTheBackendForAGrowingTime() throws {
        let good = try backend("good")
        let bad = try backend("bad", BackendBehavior(status: 503))
        let proxy = try ProxyFixture.simple(
            [good, bad],
            cluster: "    outlier_detection: { consecutive_failures: 3, base_ejection: 1s, max_ejection: 10s, max_ejected: 50% }")
        // Round robin alternates: "bad" answers 503 three times, then is ejected.
        let firstStart = Date()  // before the ejection: the time since is at least its length
        let first = try statuses(proxy.port, 30)
        #expect(first.filter { $0 == 503 }.count == 3, "\(first)")
        #expect(first.suffix(24).allSatisfy { $0 == 200 })
        // The first ejection lasts 1 s: only then is "bad" tried again.
        let back = try secondsUntil(503, proxy.port)
        #expect(back != nil)
        #expect(Date().timeIntervalSince(firstStart) >= 0.98, "back after \(back ?? -1) s")
        // It fails three more times and is ejected again, now for 2 s.
        let secondStart = Date()
        let second = try statuses(proxy.port, 30)
        #expect(second.filter { $0 == 503 }.count == 2, "\(second)")  // the first of the three was above
        #expect(second.suffix(24).allSatisfy { $0 == 200 })
        #expect(try secondsUntil(503, proxy.port) != nil)
        #expect(Date().timeIntervalSince(secondStart) >= 1.98)
    }

    /// Found by the chaos soak: requests already in flight to a backend that is then ejected
    /// fail after the ejection, and each batch of them ejected it again with a doubled time, so
    /// one freeze jumped to the maximum. An ejected backend is not ejected again.
    @Test func aBackendFailingManyRequestsAtOnceIsEjectedOnce() throws {
        let good = try (0..<3).map { try backend("good\($0)") }
        let bad = try backend("bad", BackendBehavior(status: 500, delay: 300_000_000))
        let sluice = try SluiceProcess(
            yaml: """
                workers: 1
                access_log: { path: off }
                listeners:
                  - { name: web, listen: 127.0.0.1:0, routes: [ { cluster: app } ] }
                clusters:
                  - name: app
                    outlier_detection: { consecutive_failures: 2, base_ejection: 1s, max_ejection: 60s, max_ejected: 50% }
                    backends:
                      - { name: good0, address: 127.0.0.1:\(good[0].port) }
                      - { name: good1, address: 127.0.0.1:\(good[1].port) }
                      - { name: good2, address: 127.0.0.1:\(good[2].port) }
                      - { name: bad, address: 127.0.0.1:\(bad.port) }
                """)
        let port = try sluice.port(of: "web")
        let admin = try sluice.adminPort()
        // 40 requests at once: round robin sends 10 to "bad", which all fail together 300 ms
        // later (max_ejected 50% of four would allow a second ejection of another backend).
        let clients = try (0..<40).map { _ in try TestClient(port: port) }
        for c in clients { try c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n") }
        let statuses = try clients.map { try $0.readResponse().status }
        #expect(statuses.filter { $0 == 500 }.count >= 8, "\(statuses)")
        let metrics = try get(admin, "/metrics").text
        #expect(metrics.contains("sluice_outlier_ejections_total{cluster=\"app\",backend=\"bad\"} 1\n"), "\(metrics)")
        // One ejection of 1 s (not 2^k s): "bad" is tried again within about a second.
        let start = Date()
        var back = false
        let c = try TestClient(port: port)
        while Date().timeIntervalSince(start) < 5 && !back {
            back = try c.request("GET / HTTP/1.1\r\nHost: a\r\n\r\n").header("X-Backend") == "bad"
        }
        #expect(back && Date().timeIntervalSince(start) < 2.5, "back after \(Date().timeIntervalSince(start)) s")
        sluice.signal(SIGTERM)
        #expect(sluice.waitForExit(timeout: 10) == 0)
    }

    @Test func neverEjectsPastMaxEjected() throws {
        let a = try backend("a", BackendBehavior(status: 500))
        let b = try backend("b", BackendBehavior(status: 500))
        let proxy = try ProxyFixture.simple(
            [a, b],
            cluster: """
                    outlier_detection: { consecutive_failures: 2, base_ejection: 5s, max_ejected: 50% }
                    failover: { when_all_down: reject }
                """)
        let c = try TestClient(port: proxy.port)
        let rs = try (0..<20).map { _ in try c.request("GET / HTTP/1.1\r\nHost: a\r\n\r\n") }
        // a, b, a: "a" fails twice and is ejected; from then on only "b" answers. "b" fails
        // twice too, but ejecting it would pass 50% of the tier: it stays, and with
        // `when_all_down: reject` a second ejection would have turned the rest into 503s.
        #expect(rs.prefix(3).map { $0.header("X-Backend") } == ["a", "b", "a"])
        #expect(rs.dropFirst(3).allSatisfy { $0.header("X-Backend") == "b" }, "\(rs.map { $0.header("X-Backend") ?? "\($0.status)" })")
        #expect(rs.allSatisfy { $0.status == 500 }, "\(rs.map(\.status))")
    }

    @Test func refusedConnectionsCountAsFailures() throws {
        let good = try backend("good")
        let gone = try backend("gone")
        let proxy = try ProxyFixture.simple(
            [good, gone], cluster: "    outlier_detection: { consecutive_failures: 2, base_ejection: 5s }")
        gone.stop()
        let s = try statuses(proxy.port, 20)
        #expect(s.filter { $0 == 502 }.count == 2, "\(s)")
    }
}
