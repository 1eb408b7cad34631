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
        // Just back: weight 10 starts at 10% against 10, and grows over the 3 s.
        let early = try counts(proxy.port, 100)
        #expect((early["b"] ?? 0) < 30, "\(early)")
        // Then it reaches its full weight (wait for it rather than sleep a fixed time).
        var later: [String: Int] = [:]
        let full = Date().addingTimeInterval(15)
        while Date() < full {
            later = try counts(proxy.port, 100)
            if later == ["a": 50, "b": 50] { break }
            usleep(100_000)
        }
        #expect(later == ["a": 50, "b": 50], "\(later)")
    }

    @Test func aReturningWeightOneBackendGetsAboutATenthOfItsWeightInItsFirstSecond() throws {
        let a = try backend("a")
        let b = try backend("b")
        let proxy = try ProxyFixture.simple(
            [a, b],
            cluster: """
                    slow_start: 10s
                    health_check: { interval: 50ms, timeout: 50ms, rise: 1, fall: 1, jitter: 0% }
                """)
        #expect(try counts(proxy.port, 10) == ["a": 5, "b": 5])
        b.behavior = BackendBehavior(healthy: false)
        let out = Date().addingTimeInterval(5)
        while Date() < out, try counts(proxy.port, 10)["b"] != nil { usleep(20_000) }
        b.behavior = BackendBehavior(healthy: true)
        let c = try TestClient(port: proxy.port)
        let back = Date().addingTimeInterval(5)
        while Date() < back, try c.request("GET / HTTP/1.1\r\nHost: a\r\n\r\n").header("X-Backend") != "b" {}
        // Within its first second back, weight 1 ramps from 0.1 to 0.19 against a's 1: about
        // 9-16% of the requests, not the half a whole weight of 1 would give it.
        let start = Date()
        var early: [String: Int] = [:]
        for _ in 0..<200 { early[try c.request("GET / HTTP/1.1\r\nHost: a\r\n\r\n").header("X-Backend") ?? "?", default: 0] += 1 }
        let elapsed = Date().timeIntervalSince(start)
        #expect(elapsed < 1, "the 200 requests took \(elapsed) s")
        #expect((early["b"] ?? 0) >= 10 && (early["b"] ?? 0) <= 40, "\(early)")
    }
}
