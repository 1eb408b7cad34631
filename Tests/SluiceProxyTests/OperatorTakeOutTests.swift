import Foundation
import Glibc
import SluiceBackend
import Testing

/// Backends an operator drained or disabled stay out, even when `fail_open` would try
/// backends that fail their health checks (HAProxy's MAINT answers 503 too).
@Suite struct OperatorTakeOutTests {
    func call(_ port: Int, _ method: String, _ path: String) throws -> TestResponse {
        try TestClient(port: port).request("\(method) \(path) HTTP/1.1\r\nHost: admin\r\nContent-Length: 0\r\n\r\n")
    }

    /// Answers to `n` GETs by backend name, or by status when not 200.
    func answers(_ port: Int, _ n: Int) throws -> [String: Int] {
        var out: [String: Int] = [:]
        for _ in 0..<n {
            let r = try get(port, "/")
            out[r.status == 200 ? (r.header("X-Backend") ?? "?") : "\(r.status)", default: 0] += 1
        }
        return out
    }

    func allDown(_ admin: Int) throws -> Bool {
        let status = try JSONSerialization.jsonObject(with: Data(call(admin, "GET", "/status").body)) as? [String: Any]
        return ((status?["clusters"] as? [[String: Any]])?.first?["all_down"] as? Bool) == true
    }

    func sluice(_ a: DemoBackend, _ b: DemoBackend, cluster: String = "") throws -> SluiceProcess {
        try SluiceProcess(
            yaml: """
                workers: 1
                access_log: { path: off }
                listeners:
                  - { name: web, listen: 127.0.0.1:0, routes: [ { cluster: app } ] }
                clusters:
                  - name: app
                    backends:
                      - { name: a, address: 127.0.0.1:\(a.port) }
                      - { name: b, address: 127.0.0.1:\(b.port) }
                    failover: { when_all_down: fail_open }
                \(cluster)
                """)
    }

    @Test func disablingOrDrainingEveryBackendAnswers503WithoutHealthChecks() throws {
        let a = try backend("a")
        let b = try backend("b")
        let s = try sluice(a, b)
        let port = try s.port(of: "web")
        let admin = try s.adminPort()
        #expect(try answers(port, 10) == ["a": 5, "b": 5])
        #expect(try call(admin, "POST", "/clusters/app/backends/a/disable").status == 200)
        #expect(try answers(port, 6) == ["b": 6])
        #expect(try call(admin, "POST", "/clusters/app/backends/b/disable").status == 200)
        let served = a.requestsServed + b.requestsServed
        #expect(try answers(port, 10) == ["503": 10])
        #expect(a.requestsServed + b.requestsServed == served)
        // Drained is out too: one drained, one disabled, then both drained.
        #expect(try call(admin, "POST", "/clusters/app/backends/a/drain").status == 200)
        #expect(try answers(port, 6) == ["503": 6])
        #expect(try call(admin, "POST", "/clusters/app/backends/b/drain").status == 200)
        #expect(try answers(port, 6) == ["503": 6])
        #expect(a.requestsServed + b.requestsServed == served)
        // Back in: traffic resumes.
        #expect(try call(admin, "POST", "/clusters/app/backends/b/enable").status == 200)
        #expect(try answers(port, 4) == ["b": 4])
        s.signal(SIGTERM)
        #expect(s.waitForExit(timeout: 10) == 0)
    }

    @Test func failOpenTriesBackendsThatFailChecksButNotOnesAnOperatorTookOut() throws {
        let a = try backend("a", BackendBehavior(healthy: false))
        let b = try backend("b", BackendBehavior(healthy: false))
        let s = try sluice(a, b, cluster: "    health_check: { interval: 100ms, timeout: 100ms, rise: 1, fall: 1, jitter: 0% }")
        let port = try s.port(of: "web")
        let admin = try s.adminPort()
        // Both fail their checks: fail_open still sends traffic to both.
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline, try !allDown(admin) { usleep(50_000) }
        #expect(try allDown(admin))
        #expect(try answers(port, 10) == ["a": 5, "b": 5])
        #expect(try call(admin, "POST", "/clusters/app/backends/a/disable").status == 200)
        #expect(try answers(port, 6) == ["b": 6])
        #expect(try call(admin, "POST", "/clusters/app/backends/b/drain").status == 200)
        #expect(try answers(port, 6) == ["503": 6])
        s.signal(SIGTERM)
        #expect(s.waitForExit(timeout: 10) == 0)
    }
}
