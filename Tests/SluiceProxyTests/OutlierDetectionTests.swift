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
