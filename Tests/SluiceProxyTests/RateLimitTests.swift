import Foundation
import Glibc
import SluiceBackend
import Testing

/// Per-client rate limits (issue 8.4) through the real `sluice` binary: GCRA per key, 429 with
/// the exact Retry-After, shared by all workers, kept across a reload.
@Suite(.serialized) struct RateLimitEndToEndTests {
    func waitFor(_ condition: () -> Bool) -> Bool {
        for _ in 0..<500 where !condition() { usleep(20_000) }
        return condition()
    }

    /// `/ip/...` limited by client address (2/s, burst 3); everything else by `X-Api-Key`
    /// (`header`: its rate and burst).
    func yaml(_ backendPort: Int, log: String, workers: Int = 1, header: String = "rate: 30/m, burst: 2") -> String {
        """
        workers: \(workers)
        access_log: { path: \(log), format: json }
        listeners:
          - name: web
            listen: 127.0.0.1:0
            routes:
              - match: { path_prefix: /ip }
                cluster: app
                rate_limit: { key: client_ip, rate: 2/s, burst: 3 }
              - cluster: app
                rate_limit: { key: header:X-Api-Key, \(header) }
        clusters:
          - { name: app, backends: [ { name: app1, address: 127.0.0.1:\(backendPort) } ] }
        """
    }

    /// A running `sluice` on `yaml(...)` with a fresh access-log file: the process, the web
    /// listener's port, the log's path (removed by the caller).
    func start(workers: Int = 1, header: String = "rate: 30/m, burst: 2") throws -> (SluiceProcess, Int, String, DemoBackend) {
        let b = try backend("app1")
        let log = NSTemporaryDirectory() + "sluice-rl-\(UUID().uuidString).log"
        let sluice = try SluiceProcess(yaml: yaml(b.port, log: log, workers: workers, header: header))
        return (sluice, try sluice.port(of: "web"), log, b)
    }

    func statuses(_ port: Int, _ n: Int, path: String = "/", key: String? = nil) throws -> [Int] {
        try (0..<n).map { _ in try get(port, path, headers: key.map { "X-Api-Key: \($0)\r\n" } ?? "").status }
    }

    @Test func pastItsBurstAClientGets429WithTheExactRetryAfterAndOthersAreUnaffected() throws {
        let (sluice, port, log, b) = try start()
        defer {
            try? FileManager.default.removeItem(atPath: log)
            withExtendedLifetime(b) {}  // the backend serves until the test ends
        }

        // alice: her burst of 2, then 429. At 30/m her next request is 2 s after the first
        // one's interval began, less the time these requests took: Retry-After 2.
        #expect(try statuses(port, 2, key: "alice") == [200, 200])
        let refused = try get(port, "/", headers: "X-Api-Key: alice\r\n")
        #expect(refused.status == 429)
        #expect(refused.header("Retry-After") == "2")
        #expect(refused.text.contains("rate limit exceeded"))
        #expect(refused.body.count < 100)
        // bob has his own key, and a key of 20,000 bytes (hashed, one entry) its own too.
        #expect(try statuses(port, 2, key: "bob") == [200, 200])
        let long = String(repeating: "k", count: 20_000)
        #expect(try statuses(port, 3, key: long) == [200, 200, 429])
        #expect(try statuses(port, 1, key: long + "x") == [200])
        // Without the header: limited by the client address (all of these come from 127.0.0.1).
        #expect(try statuses(port, 3) == [200, 200, 429])
        // The client_ip route: burst 3 at 2/s, so Retry-After 1.
        #expect(try statuses(port, 3, path: "/ip/a") == [200, 200, 200])
        let ip = try get(port, "/ip/b")
        #expect(ip.status == 429 && ip.header("Retry-After") == "1")
        // After the wait it named, alice is allowed again.
        sleep(2)
        #expect(try statuses(port, 1, key: "alice") == [200])

        // Counted by listener and cluster, and logged with status 429.
        let admin = try sluice.adminPort()
        let metrics = try get(admin, "/metrics").text
        #expect(metrics.contains("sluice_rate_limited_total{listener=\"web\",cluster=\"app\"} 4"), "\(metrics)")
        #expect(metrics.contains("sluice_requests_total{listener=\"web\",cluster=\"app\",code=\"429\"} 4"))
        #expect(waitFor { ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("\"status\":429") })
        let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
        let limited = lines.filter { $0.contains("\"status\":429") }
        #expect(limited.count == 4)
        #expect(limited.allSatisfy { $0.contains("\"cluster\":\"app\"") })
        sluice.signal(SIGTERM)
        #expect(sluice.waitForExit(timeout: 10) == 0)
    }

    @Test func withTwoWorkersManyConnectionsShareOneBurst() throws {
        let (sluice, port, log, b) = try start(workers: 2, header: "rate: 1/m, burst: 10")
        defer {
            try? FileManager.default.removeItem(atPath: log)
            withExtendedLifetime(b) {}  // the backend serves until the test ends
        }
        // 60 connections at once (the kernel spreads them over both workers' sockets), one
        // request each, all with one key: the burst is 10 for the process, not 10 per worker.
        let clients = try (0..<60).map { _ in try TestClient(port: port) }
        for c in clients { try c.send("GET / HTTP/1.1\r\nHost: a\r\nX-Api-Key: shared\r\n\r\n") }
        let rs = try clients.map { try $0.readResponse() }
        #expect(rs.filter { $0.status == 200 }.count == 10, "\(rs.map(\.status))")
        #expect(rs.filter { $0.status == 429 }.count == 50)
        #expect(rs.filter { $0.status == 429 }.allSatisfy { Int($0.header("Retry-After") ?? "") ?? 0 > 1 })
        sluice.signal(SIGTERM)
        #expect(sluice.waitForExit(timeout: 10) == 0)
    }

    @Test func aReloadKeepsAnUnchangedLimitsStateAndAChangedLimitStartsFresh() throws {
        let (sluice, port, log, b) = try start(header: "rate: 1/m, burst: 2")
        defer {
            try? FileManager.default.removeItem(atPath: log)
            withExtendedLifetime(b) {}  // the backend serves until the test ends
        }
        #expect(try statuses(port, 3, key: "carol") == [200, 200, 429])
        // The same limit (the file rewritten with another listener order of keys: same config):
        // carol stays limited, no fresh burst.
        try (yaml(b.port, log: log, header: "burst: 2, rate: 1/m") + "\n").write(
            toFile: sluice.configPath, atomically: true, encoding: .utf8)
        sluice.signal(SIGHUP)
        #expect(waitFor { sluice.log.contains("generation=2") || sluice.log.contains("\"generation\":\"2\"") })
        #expect(try statuses(port, 1, key: "carol") == [429])
        // A changed limit is a new limiter: its burst is whole.
        try yaml(b.port, log: log, header: "rate: 1/m, burst: 4").write(
            toFile: sluice.configPath, atomically: true, encoding: .utf8)
        sluice.signal(SIGHUP)
        #expect(waitFor { sluice.log.contains("generation=3") || sluice.log.contains("\"generation\":\"3\"") })
        #expect(try statuses(port, 5, key: "carol") == [200, 200, 200, 200, 429])
        sluice.signal(SIGTERM)
        #expect(sluice.waitForExit(timeout: 10) == 0)
    }
}
