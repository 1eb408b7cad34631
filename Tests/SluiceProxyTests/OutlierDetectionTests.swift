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

    @Test func consecutive5xxEjectTheBackendForAGrowingTime() throws {
        let good = try backend("good")
        let bad = try backend("bad", BackendBehavior(status: 503))
        let proxy = try ProxyFixture.simple(
            [good, bad],
            cluster: "    outlier_detection: { consecutive_failures: 3, base_ejection: 400ms, max_ejection: 10s, max_ejected: 50% }")
        // Round robin alternates: "bad" answers 503 three times, then is ejected.
        let first = try statuses(proxy.port, 30)
        #expect(first.filter { $0 == 503 }.count == 3, "\(first)")
        #expect(first.suffix(24).allSatisfy { $0 == 200 })
        // After the ejection ends it is tried again, fails three more times, and is ejected for 800 ms.
        usleep(500_000)
        let second = try statuses(proxy.port, 30)
        #expect(second.filter { $0 == 503 }.count == 3, "\(second)")
        usleep(500_000)
        #expect(try statuses(proxy.port, 10).allSatisfy { $0 == 200 })  // still out: 800 ms this time
    }

    @Test func neverEjectsPastMaxEjected() throws {
        let a = try backend("a", BackendBehavior(status: 500))
        let b = try backend("b", BackendBehavior(status: 500))
        let proxy = try ProxyFixture.simple(
            [a, b], cluster: "    outlier_detection: { consecutive_failures: 2, base_ejection: 5s, max_ejected: 50% }")
        // One of the two is ejected; the other stays (50% of the tier): requests keep being answered.
        let s = try statuses(proxy.port, 20)
        #expect(s.allSatisfy { $0 == 500 })
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
