import Foundation
import Glibc
import SluiceBackend
import Testing

/// The admin listener through the real binary: status, metrics, dashboard, reload, runtime API.
@Suite(.serialized) struct AdminTests {
    func call(_ port: Int, _ method: String, _ path: String, body: String = "", headers: String = "") throws -> TestResponse {
        let c = try TestClient(port: port)
        return try c.request("\(method) \(path) HTTP/1.1\r\nHost: admin\r\n\(headers)Content-Length: \(body.utf8.count)\r\n\r\n\(body)")
    }

    func json(_ r: TestResponse) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any] ?? [:]
    }

    func backends(_ status: [String: Any]) -> [[String: Any]] {
        ((status["clusters"] as? [[String: Any]])?.first?["backends"] as? [[String: Any]]) ?? []
    }

    /// A runtime weight change is followed by new requests at once, by the cluster's algorithm
    /// (the listener's snapshot moves with it; a stale one sent everything to the first backend).
    @Test func aRuntimeWeightChangeSetsTheSplit() throws {
        let a = try backend("a")
        let b = try backend("b")
        let sluice = try SluiceProcess(
            yaml: """
                workers: 1
                access_log: { path: off }
                listeners:
                  - { name: web, listen: 127.0.0.1:0, routes: [ { cluster: app } ] }
                clusters:
                  - name: app
                    backends:
                      - { name: a, address: 127.0.0.1:\(a.port), weight: 1 }
                      - { name: b, address: 127.0.0.1:\(b.port), weight: 1 }
                """)
        let port = try sluice.port(of: "web")
        let admin = try sluice.adminPort()
        #expect(try call(admin, "PUT", "/clusters/app/backends/b/weight", body: "3").status == 200)
        var counts: [String: Int] = [:]
        for _ in 0..<40 { counts[try get(port, "/").header("X-Backend") ?? "?", default: 0] += 1 }
        #expect(counts == ["a": 10, "b": 30], "\(counts)")
        sluice.signal(SIGTERM)
        #expect(sluice.waitForExit(timeout: 10) == 0)
    }

    @Test func statusMetricsDashboardReloadAndRuntimeAPI() throws {
        let a = try backend("a")
        let b = try backend("b")
        let yaml = """
            workers: 2
            access_log: { path: off }
            listeners:
              - { name: web, listen: 127.0.0.1:0, routes: [ { cluster: app } ] }
            clusters:
              - name: app
                backends:
                  - { name: a, address: 127.0.0.1:\(a.port), weight: 2 }
                  - { name: b, address: 127.0.0.1:\(b.port) }
            """
        let sluice = try SluiceProcess(yaml: yaml)
        let port = try sluice.port(of: "web")
        let admin = try sluice.adminPort()
        #expect(try call(admin, "GET", "/healthz").status == 200)
        for _ in 0..<30 { #expect(try get(port, "/").status == 200) }

        var status = try json(call(admin, "GET", "/status"))
        let config = status["config"] as? [String: Any] ?? [:]
        #expect(config["generation"] as? Int == 1)
        #expect(config["path"] as? String == sluice.configPath)
        let list = backends(status)
        #expect(list.map { $0["name"] as? String } == ["a", "b"])
        #expect(list[0]["tier"] as? String == "primary")
        #expect(list[0]["weight"] as? Int == 2)
        #expect(list[0]["effective_weight"] as? Int == 2)
        #expect(list[0]["state"] as? String == "healthy")
        #expect(list[0]["active_requests"] as? Int == 0)
        #expect(list.reduce(0) { $0 + ($1["requests_total"] as? Int ?? 0) } == 30)

        let metrics = try call(admin, "GET", "/metrics")
        #expect(metrics.header("Content-Type")?.hasPrefix("text/plain; version=0.0.4") == true)
        #expect(metrics.text.contains("sluice_requests_total{listener=\"web\",cluster=\"app\",code=\"200\"} 30\n"))
        #expect(metrics.text.contains("sluice_request_duration_seconds_count{cluster=\"app\"} 30\n"))
        #expect(metrics.text.contains("sluice_backend_healthy{cluster=\"app\",backend=\"a\",tier=\"primary\"} 1\n"))
        #expect(metrics.text.contains("sluice_config_reloads_total{result=\"success\"} 0\n"))
        #expect(metrics.text.contains("# TYPE sluice_request_duration_seconds histogram"))

        let page = try call(admin, "GET", "/")
        #expect(page.header("Content-Type")?.hasPrefix("text/html") == true)
        #expect(page.text.contains("<title>Sluice</title>"))

        // Runtime API: drain takes a backend out of new requests; enable puts it back.
        #expect(try call(admin, "POST", "/clusters/app/backends/a/drain").status == 200)
        status = try json(call(admin, "GET", "/status"))
        #expect(backends(status)[0]["state"] as? String == "draining")
        for _ in 0..<10 { #expect(try get(port, "/").header("X-Backend") == "b") }
        #expect(try call(admin, "POST", "/clusters/app/backends/a/enable").status == 200)
        #expect(try call(admin, "POST", "/clusters/app/backends/a/disable").status == 200)
        #expect(backends(try json(call(admin, "GET", "/status")))[0]["state"] as? String == "disabled")
        #expect(try call(admin, "POST", "/clusters/app/backends/a/enable").status == 200)
        #expect(try call(admin, "PUT", "/clusters/app/backends/b/weight", body: "0").status == 200)
        #expect(try (0..<6).allSatisfy { _ in try get(port, "/").header("X-Backend") == "a" })
        #expect(try call(admin, "PUT", "/clusters/app/backends/b/weight", body: "heavy").status == 400)
        #expect(try call(admin, "POST", "/clusters/app/backends/zz/drain").status == 404)
        #expect(try call(admin, "GET", "/clusters/app/backends/a/drain").status == 405)

        // POST /reload: a bad file answers 400 with FILE:LINE and changes nothing.
        try "listeners: [\n  oops: {\n".write(toFile: sluice.configPath, atomically: true, encoding: .utf8)
        let bad = try call(admin, "POST", "/reload")
        #expect(bad.status == 400)
        #expect(bad.text.contains("\(sluice.configPath):"))
        status = try json(call(admin, "GET", "/status"))
        let last = (status["config"] as? [String: Any])?["last_reload"] as? [String: Any] ?? [:]
        #expect(last["result"] as? String == "failure")
        #expect((status["config"] as? [String: Any])?["generation"] as? Int == 1)
        #expect(try get(port, "/").status == 200)
        try ("admin: { listen: 127.0.0.1:0 }\n" + yaml).write(toFile: sluice.configPath, atomically: true, encoding: .utf8)
        let good = try call(admin, "POST", "/reload")
        #expect(good.status == 200)
        #expect(good.text.contains("generation 2"))
        #expect(try call(admin, "GET", "/metrics").text.contains("sluice_config_reloads_total{result=\"failure\"} 1\n"))
        sluice.signal(SIGTERM)
        #expect(sluice.waitForExit(timeout: 10) == 0)
    }

    @Test func aTokenGuardsEveryCallButGets() throws {
        let a = try backend("a")
        let tokenFile = NSTemporaryDirectory() + "token-\(UUID().uuidString)"
        try "s3cret\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: tokenFile) }
        let sluice = try SluiceProcess(
            yaml: """
                admin: { listen: 127.0.0.1:0, token_file: \(tokenFile) }
                access_log: { path: off }
                listeners:
                  - { name: web, listen: 127.0.0.1:0, routes: [ { cluster: app } ] }
                clusters:
                  - { name: app, backends: [ { name: a, address: 127.0.0.1:\(a.port) } ] }
                """)
        let admin = try sluice.adminPort()
        #expect(try call(admin, "GET", "/status").status == 200)
        #expect(try call(admin, "POST", "/clusters/app/backends/a/drain").status == 401)
        #expect(try call(admin, "POST", "/clusters/app/backends/a/drain", headers: "Authorization: Bearer wrong\r\n").status == 401)
        #expect(try call(admin, "POST", "/clusters/app/backends/a/drain", headers: "Authorization: Bearer s3cret\r\n").status == 200)
        sluice.signal(SIGTERM)
        #expect(sluice.waitForExit(timeout: 10) == 0)
    }

    @Test func aRelativeTokenFileIsReadBesideTheConfigAndTheSchemeIsCaseInsensitive() throws {
        let a = try backend("a")
        // SluiceProcess writes the config into the temporary folder; sluice runs from elsewhere.
        let name = "token-\(UUID().uuidString)"
        let tokenFile = NSTemporaryDirectory() + name
        try "s3cret\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: tokenFile) }
        #expect(FileManager.default.currentDirectoryPath + "/" != NSTemporaryDirectory())
        let sluice = try SluiceProcess(
            yaml: """
                admin: { listen: 127.0.0.1:0, token_file: \(name) }
                access_log: { path: off }
                listeners:
                  - { name: web, listen: 127.0.0.1:0, routes: [ { cluster: app } ] }
                clusters:
                  - { name: app, backends: [ { name: a, address: 127.0.0.1:\(a.port) } ] }
                """)
        let admin = try sluice.adminPort()
        let drain = "/clusters/app/backends/a/drain"
        #expect(try call(admin, "POST", drain).status == 401)
        #expect(try call(admin, "POST", drain, headers: "Authorization: Bearer s3cre\r\n").status == 401)
        #expect(try call(admin, "POST", drain, headers: "Authorization: Basic s3cret\r\n").status == 401)
        for scheme in ["Bearer", "bearer", "BEARER"] {
            #expect(try call(admin, "POST", drain, headers: "Authorization: \(scheme) s3cret\r\n").status == 200, "\(scheme)")
        }
        sluice.signal(SIGTERM)
        #expect(sluice.waitForExit(timeout: 10) == 0)
    }

    /// The counters kept per worker (requests, durations, shed, retries, TLS handshakes) are
    /// summed over both workers, and a reload that reorders clusters and listeners changes none
    /// of them (they are carried over by name).
    @Test func countersAddUpOverWorkersAndSurviveAReloadThatReordersEverything() throws {
        let dir = NSTemporaryDirectory() + "sluice-admin-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (cert, key) = try TLSTests.certificate("a.example", in: dir)
        let a = try backend("a")
        let web = "  - { name: web, listen: 127.0.0.1:0, routes: [ { match: { path_prefix: /gone/ }, cluster: gone }, { cluster: app } ] }"
        let secure = """
              - name: secure
                listen: 127.0.0.1:0
                tls: { certificates: [ { cert: \(cert), key: \(key) } ] }
                routes: [ { cluster: app } ]
            """
        let app = """
              - name: app
                backends:
                  - { name: dead, address: 127.0.0.1:1 }
                  - { name: a, address: 127.0.0.1:\(a.port) }
                retries: { attempts: 2, on: [connect_failure] }
            """
        let gone = "  - { name: gone, backends: [ { name: g, address: 127.0.0.1:\(a.port) } ] }"
        func yaml(_ listeners: [String], _ clusters: [String]) -> String {
            "admin: { listen: 127.0.0.1:0 }\nworkers: 2\naccess_log: { path: off }\nlisteners:\n" + listeners.joined(separator: "\n")
                + "\nclusters:\n" + clusters.joined(separator: "\n") + "\n"
        }
        let sluice = try SluiceProcess(yaml: yaml([web, secure], [app, gone]))
        let port = try sluice.port(of: "web")
        let tlsPort = try sluice.port(of: "secure")
        let admin = try sluice.adminPort()

        for _ in 0..<10 { #expect(try get(port, "/").status == 200) }
        #expect(try call(admin, "POST", "/clusters/gone/backends/g/disable").status == 200)
        for _ in 0..<3 { #expect(try get(port, "/gone/x").status == 503) }
        for _ in 0..<2 { #expect(try TLSTests.shell(["curl", "-sk", "-o", "/dev/null", "https://127.0.0.1:\(tlsPort)/"]).0 == 0) }
        _ = try? TestClient(port: tlsPort).request("GET / HTTP/1.1\r\nHost: a\r\n\r\n")  // not TLS: a failed handshake

        func counters() throws -> Set<Substring> {
            let families = [
                "sluice_requests_total{", "sluice_request_duration_seconds_count{", "sluice_backend_requests_total{",
                "sluice_shed_total{", "sluice_retries_total{", "sluice_tls_handshakes_total{",
            ]
            let text = try call(admin, "GET", "/metrics").text
            return Set(text.split(separator: "\n").filter { line in families.contains { line.hasPrefix($0) } })
        }
        let before = try counters()
        #expect(before.contains("sluice_requests_total{listener=\"web\",cluster=\"app\",code=\"200\"} 10"))
        #expect(before.contains("sluice_requests_total{listener=\"secure\",cluster=\"app\",code=\"200\"} 2"))
        #expect(before.contains("sluice_requests_total{listener=\"web\",cluster=\"gone\",code=\"503\"} 3"))
        #expect(before.contains("sluice_backend_requests_total{cluster=\"app\",backend=\"a\",code=\"200\"} 12"))
        #expect(before.contains("sluice_shed_total{cluster=\"gone\",reason=\"no_backend\",priority=\"normal\"} 3"))
        #expect(before.contains("sluice_shed_total{cluster=\"app\",reason=\"no_backend\",priority=\"normal\"} 0"))
        #expect(before.contains("sluice_tls_handshakes_total{listener=\"secure\",result=\"success\"} 2"))
        #expect(before.contains("sluice_tls_handshakes_total{listener=\"secure\",result=\"failure\"} 1"))
        #expect(!before.contains("sluice_retries_total{cluster=\"app\",reason=\"connect_failure\"} 0"), "dead was tried first")
        #expect(before.contains { $0.hasPrefix("sluice_retries_total{cluster=\"app\",reason=\"connect_failure\"} ") })

        try yaml([secure, web], [gone, app]).write(toFile: sluice.configPath, atomically: true, encoding: .utf8)
        #expect(try call(admin, "POST", "/reload").status == 200)
        #expect(try counters() == before)
        sluice.signal(SIGTERM)
        #expect(sluice.waitForExit(timeout: 10) == 0)
    }

    /// A config whose /metrics answer is far larger than what loopback sockets buffer (~6 MB:
    /// a long cluster name on every backend line), so a client that never reads fills them.
    static func bigMetricsConfig(weight: Int) -> String {
        let cluster = String(repeating: "c", count: 4000)
        let list = (0..<800).map { "      - { name: b\($0), address: 127.0.0.1:1, weight: \($0 == 0 ? weight : 1) }" }
        return """
            workers: 1
            access_log: { path: off }
            listeners:
              - { name: web, listen: 127.0.0.1:0, routes: [ { cluster: \(cluster) } ] }
            clusters:
              - name: \(cluster)
                backends:
            \(list.joined(separator: "\n"))

            """
    }

    @Test func aClientThatNeverReadsStallsNeitherReloadsNorHealthChecks() throws {
        let sluice = try SluiceProcess(yaml: Self.bigMetricsConfig(weight: 1))
        let admin = try sluice.adminPort()
        // Asks for /metrics many times on one connection with a small window, and never reads.
        let stalled = try TestClient(port: admin, timeoutSeconds: 30, receiveBuffer: 4096)
        try stalled.send(String(repeating: "GET /metrics HTTP/1.1\r\nHost: admin\r\n\r\n", count: 50))
        let deadline = Date().addingTimeInterval(20)
        while !stalled.hasUnreadBytes() && Date() < deadline { usleep(10_000) }
        #expect(stalled.hasUnreadBytes())
        // The control loop still answers others at once.
        let start = Date()
        #expect(try call(admin, "GET", "/healthz").status == 200)
        #expect(Date().timeIntervalSince(start) < 1)
        // SIGHUP still applies a changed file, POST /reload from another client still answers.
        try ("admin: { listen: 127.0.0.1:0 }\n" + Self.bigMetricsConfig(weight: 7))
            .write(toFile: sluice.configPath, atomically: true, encoding: .utf8)
        sluice.signal(SIGHUP)
        var generation = 0
        var weight = 0
        let reloadDeadline = Date().addingTimeInterval(5)
        while generation != 2 && Date() < reloadDeadline {
            let status = try json(call(admin, "GET", "/status"))
            generation = (status["config"] as? [String: Any])?["generation"] as? Int ?? 0
            weight = backends(status).first?["weight"] as? Int ?? 0
            if generation != 2 { usleep(50_000) }
        }
        #expect(generation == 2)
        #expect(weight == 7)
        let reload = try call(admin, "POST", "/reload")
        #expect(reload.status == 200)
        #expect(reload.text.contains("generation 3"))
        // The client that never reads is closed after the write timeout (10 s without progress),
        // having received only part of the answer.
        var seen = 0
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        let closeDeadline = Date().addingTimeInterval(25)
        var ended = false
        usleep(12_000_000)
        while Date() < closeDeadline {
            let n = buffer.withUnsafeMutableBytes { recv(stalled.fd, $0.baseAddress!, $0.count, 0) }
            if n <= 0 {
                ended = n == 0 || errno == ECONNRESET
                break
            }
            seen += n
        }
        #expect(ended)
        #expect(seen > 0 && seen < 6_000_000)
        sluice.signal(SIGTERM)
        #expect(sluice.waitForExit(timeout: 10) == 0)
    }
}
