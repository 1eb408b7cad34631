import Foundation
import Glibc
import SluiceBackend
import Testing

/// Slow start through the proxy: a backend returning from a failure gets a small share first.
@Suite struct SlowStartProxyTests {
    func counts(_ port: Int, _ n: Int) throws -> [String: Int] {
        let c = try TestClient(port: port)
        var out: [String: Int] = [:]
        for _ in 0..<n { out[try c.request("GET / HTTP/1.1\r\nHost: a\r\n\r\n").header("X-Backend") ?? "?", default: 0] += 1 }
        return out
    }

    @Test func aRecoveredBackendRampsUpFromTenPercent() throws {
        let a = try backend("a")
        let b = try backend("b")
        let proxy = try ProxyFixture.simple(
            [a, b],
            cluster: """
                    slow_start: 3s
                    health_check: { interval: 50ms, timeout: 50ms, rise: 1, fall: 1, jitter: 0% }
                """, weights: [10, 10])
        #expect(try counts(proxy.port, 100) == ["a": 50, "b": 50])  // at start: full weights, no ramp
        b.behavior = BackendBehavior(healthy: false)
        let end = Date().addingTimeInterval(5)
        while Date() < end, try counts(proxy.port, 10)["b"] != nil { usleep(20_000) }
        b.behavior = BackendBehavior(healthy: true)
        let back = Date().addingTimeInterval(5)
        while Date() < back, try counts(proxy.port, 10)["b"] == nil { usleep(10_000) }
        // Just back: weight 10 starts at 1 (10%) against 10, and grows over the 3 s.
        let early = try counts(proxy.port, 100)
        #expect((early["b"] ?? 0) < 30, "\(early)")
        usleep(3_200_000)
        let later = try counts(proxy.port, 100)
        #expect(later == ["a": 50, "b": 50], "\(later)")
    }
}
