import Foundation
import Glibc
import SluiceBackend
import Testing

/// Spike protection (`limits`): per-backend concurrency, a bounded queue, clean 503s.
@Suite struct AdmissionTests {
    /// Sends `n` requests on `n` connections at once; returns the responses in order.
    func burst(_ port: Int, _ n: Int, path: String = "/") throws -> [TestResponse] {
        let clients = try (0..<n).map { _ in try TestClient(port: port) }
        for c in clients { try c.send("GET \(path) HTTP/1.1\r\nHost: a\r\n\r\n") }
        return try clients.map { try $0.readResponse() }
    }

    @Test func excessWaitsInTheQueueAndPastItGets503WithRetryAfter() throws {
        let b = try backend("a", BackendBehavior(delay: 300_000_000))
        let proxy = try ProxyFixture.simple(
            [b], cluster: "    limits: { max_requests_per_backend: 2, max_queue: 2, queue_timeout: 5s, queue_target: 0ms }")
        let start = Date()
        let rs = try burst(proxy.port, 6)
        let ok = rs.filter { $0.status == 200 }
        let shed = rs.filter { $0.status == 503 }
        #expect(ok.count == 4, "\(rs.map(\.status))")  // 2 at once + 2 from the queue
        #expect(shed.count == 2)
        #expect(shed.allSatisfy { $0.header("Retry-After") != nil && $0.text.contains("queue is full") })
        // The queued two ran after the first two: two service times in all.
        #expect(Date().timeIntervalSince(start) >= 0.55)
    }

    @Test func aWaiterPastQueueTimeoutGets503() throws {
        let b = try backend("a", BackendBehavior(delay: 600_000_000))
        let proxy = try ProxyFixture.simple(
            [b], cluster: "    limits: { max_requests_per_backend: 1, max_queue: 10, queue_timeout: 150ms, queue_target: 0ms }")
        let rs = try burst(proxy.port, 3)
        #expect(rs.filter { $0.status == 200 }.count == 1, "\(rs.map(\.status))")
        let late = rs.filter { $0.status == 503 }
        #expect(late.count == 2)
        #expect(late.allSatisfy { $0.text.contains("waited too long") })
    }

    @Test func aStandingQueueShedsEarlyUnderCoDel() throws {
        let b = try backend("a", BackendBehavior(delay: 100_000_000))
        let proxy = try ProxyFixture.simple(
            [b], cluster: "    limits: { max_requests_per_backend: 1, max_queue: 100, queue_timeout: 10s, queue_target: 20ms }")
        // 30 requests for a backend that serves 10/s: the queue stands, and instead of waiting
        // up to 3 s the tail is shed once waits exceed the 20 ms target.
        let start = Date()
        let rs = try burst(proxy.port, 30)
        let elapsed = Date().timeIntervalSince(start)
        let shed = rs.filter { $0.status == 503 }
        #expect(shed.count >= 10, "\(rs.map(\.status))")
        #expect(shed.allSatisfy { $0.text.contains("overloaded") })
        #expect(elapsed < 2.5)
    }

    @Test func withoutLimitsNothingIsQueued() throws {
        let b = try backend("a", BackendBehavior(delay: 100_000_000))
        let proxy = try ProxyFixture.simple([b])
        #expect(try burst(proxy.port, 20).allSatisfy { $0.status == 200 })
    }
}
