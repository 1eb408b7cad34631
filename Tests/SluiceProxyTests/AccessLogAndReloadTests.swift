import Foundation
import Glibc
import SluiceBackend
import Testing

/// The access log and SIGHUP reload, through the real binary.
@Suite(.serialized) struct AccessLogAndReloadTests {
    func waitFor(_ timeout: TimeInterval = 10, _ condition: () -> Bool) -> Bool {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            if condition() { return true }
            usleep(20_000)
        }
        return condition()
    }

    @Test func jsonAccessLogHasTheDocumentedFieldsAndSigusr1ReopensTheFile() throws {
        let b = try backend("app1")
        let dir = NSTemporaryDirectory() + "sluice-log-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let log = dir + "/access.log"
        let sluice = try SluiceProcess(
            yaml: """
                workers: 1
                access_log: { path: \(log), format: json }
                listeners:
                  - { name: web, listen: 127.0.0.1:0, routes: [ { cluster: app } ] }
                clusters:
                  - { name: app, backends: [ { name: app1, address: 127.0.0.1:\(b.port) } ] }
                """)
        let port = try sluice.port(of: "web")
        let r = try get(port, "/bytes/42", headers: "X-Request-Id: trace-1\r\n")
        #expect(r.status == 200)
        #expect(waitFor { ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("trace-1") })
        let line = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").last.map(String.init) ?? ""
        let obj = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] ?? [:]
        #expect(obj["method"] as? String == "GET")
        #expect(obj["path"] as? String == "/bytes/42")
        #expect(obj["status"] as? Int == 200)
        #expect(obj["bytes"] as? Int == 42)
        #expect(obj["listener"] as? String == "web")
        #expect(obj["cluster"] as? String == "app")
        #expect(obj["backend"] as? String == "app1")
        #expect(obj["tried"] as? [String] == ["app1"])
        #expect(obj["client"] as? String == "127.0.0.1")
        #expect(obj["request_id"] as? String == "trace-1")
        #expect(obj["duration_ms"] is Double || obj["duration_ms"] is Int)
        #expect(obj["upstream_ms"] is Double || obj["upstream_ms"] is Int)
        let time = obj["time"] as? String ?? ""
        #expect(time.range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"#, options: .regularExpression) != nil, "\(time)")

        // logrotate: move the file away, SIGUSR1, the next line lands in a new file.
        try FileManager.default.moveItem(atPath: log, toPath: log + ".1")
        sluice.signal(SIGUSR1)
        #expect(waitFor { sluice.log.contains("access log reopened") })
        _ = try get(port, "/after-rotate")
        #expect(waitFor { ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("/after-rotate") })
        #expect(!(try String(contentsOfFile: log + ".1", encoding: .utf8)).contains("/after-rotate"))
        sluice.signal(SIGTERM)
        #expect(sluice.waitForExit(timeout: 10) == 0)
    }

    @Test func sighupAppliesAValidConfigAndKeepsServingOnABadOne() throws {
        let a = try backend("a")
        let b = try backend("b")
        func yaml(_ name: String, _ port: Int) -> String {
            """
            workers: 2
            access_log: { path: off }
            listeners:
              - { name: web, listen: 127.0.0.1:0, routes: [ { cluster: app } ] }
            clusters:
              - { name: app, backends: [ { name: \(name), address: 127.0.0.1:\(port) } ] }
            """
        }
        let sluice = try SluiceProcess(yaml: yaml("a", a.port))
        let port = try sluice.port(of: "web")
        // A kept-alive connection across the reload picks up the new config at its next request.
        let c = try TestClient(port: port)
        #expect(try c.request("GET / HTTP/1.1\r\nHost: x\r\n\r\n").header("X-Backend") == "a")
        // A broken file: logged with FILE:LINE, old config keeps serving.
        try "listeners: [\n  oops: {\n".write(toFile: sluice.configPath, atomically: true, encoding: .utf8)
        sluice.signal(SIGHUP)
        #expect(waitFor { sluice.log.contains("reload failed: \(sluice.configPath):") })
        #expect(try get(port, "/").header("X-Backend") == "a")
        // A good file: applied without a restart.
        try yaml("b", b.port).write(toFile: sluice.configPath, atomically: true, encoding: .utf8)
        sluice.signal(SIGHUP)
        #expect(waitFor { sluice.log.contains("reloaded") })
        // The listener (same address in both files) kept its socket: the same port still answers.
        #expect(waitFor { (try? c.request("GET / HTTP/1.1\r\nHost: x\r\n\r\n").header("X-Backend")) == "b" })
        #expect(try get(port, "/").header("X-Backend") == "b")
        sluice.signal(SIGTERM)
        #expect(sluice.waitForExit(timeout: 10) == 0)
    }
}

/// Issue 6.11: what the access log says about exchanges that did not end normally.
@Suite(.serialized) struct AccessLogEndingsTests {
    func waitFor(_ timeout: TimeInterval = 10, _ condition: () -> Bool) -> Bool {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            if condition() { return true }
            usleep(20_000)
        }
        return condition()
    }

    func lines(_ path: String) -> [[String: Any]] {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    func start(_ backendPort: Int, top: String = "") throws -> (SluiceProcess, String, Int) {
        let log = NSTemporaryDirectory() + "sluice-endings-\(UUID().uuidString).log"
        let sluice = try SluiceProcess(
            yaml: """
                workers: 1
                access_log: { path: \(log), format: json }
                \(top)
                listeners:
                  - { name: web, listen: 127.0.0.1:0, routes: [ { cluster: app } ] }
                clusters:
                  - { name: app, backends: [ { name: app1, address: 127.0.0.1:\(backendPort) } ] }
                """)
        return (sluice, log, try sluice.port(of: "web"))
    }

    @Test func aClientThatLeftBeforeTheAnswerIsLoggedAbortedWithTheBackendsStatus() throws {
        let b = try backend("app1")
        let (sluice, log, port) = try start(b.port)
        defer { try? FileManager.default.removeItem(atPath: log) }
        do {
            let c = try TestClient(port: port)
            try c.send("GET /delay/400 HTTP/1.1\r\nHost: a\r\nX-Request-Id: left-early\r\n\r\n")
            usleep(100_000)
        }  // the client closes here, before the answer
        #expect(waitFor { lines(log).contains { $0["request_id"] as? String == "left-early" } })
        let line = lines(log).first { $0["request_id"] as? String == "left-early" } ?? [:]
        #expect(line["status"] as? Int == 200)
        #expect(line["aborted"] as? Bool == true)
        // A normal exchange is not marked.
        #expect(try get(port, "/", headers: "X-Request-Id: normal\r\n").status == 200)
        #expect(waitFor { lines(log).contains { $0["request_id"] as? String == "normal" } })
        #expect(lines(log).first { $0["request_id"] as? String == "normal" }?["aborted"] == nil)
        sluice.signal(SIGTERM)
        #expect(sluice.waitForExit(timeout: 10) == 0)
    }

    @Test func aRequestStillRunningAtTheDrainDeadlineGets503AndALogLine() throws {
        let b = try backend("app1")
        let (sluice, log, port) = try start(b.port, top: "timeouts: { drain: 500ms }")
        defer { try? FileManager.default.removeItem(atPath: log) }
        let c = try TestClient(port: port)
        try c.send("GET /delay/5000 HTTP/1.1\r\nHost: a\r\nX-Request-Id: too-slow\r\n\r\n")
        usleep(200_000)
        sluice.signal(SIGTERM)
        let r = try c.readResponse()
        #expect(r.status == 503)
        #expect(sluice.waitForExit(timeout: 10) == 0)
        let line = lines(log).first { $0["request_id"] as? String == "too-slow" }
        #expect(line?["status"] as? Int == 503)
    }

    @Test func sluicesOwnAnswersToBadHeadsLogTheirBytes() throws {
        let b = try backend("app1")
        let (sluice, log, port) = try start(b.port, top: "limits: { max_request_head: 1KiB }")
        defer { try? FileManager.default.removeItem(atPath: log) }
        let long = try TestClient(port: port).request("GET /\(String(repeating: "a", count: 2000)) HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(long.status == 414 || long.status == 431)
        #expect(waitFor { !lines(log).isEmpty })
        let line = lines(log).last ?? [:]
        #expect(line["status"] as? Int == long.status)
        #expect(line["bytes"] as? Int == long.body.count)
        #expect(long.body.count > 0)
        sluice.signal(SIGTERM)
        #expect(sluice.waitForExit(timeout: 10) == 0)
    }
}

@Suite(.serialized) struct ListenerReloadTests {
    @Test func reloadKeepsUnchangedListenersOpensNewOnesAndDrainsRemovedOnes() throws {
        let b = try backend("app1")
        func yaml(_ listeners: [String]) -> String {
            """
            workers: 2
            access_log: { path: off }
            listeners:
            \(listeners.map { "  - { name: \($0), listen: 127.0.0.1:0, routes: [ { cluster: app } ] }" }.joined(separator: "\n"))
            clusters:
              - { name: app, backends: [ { address: 127.0.0.1:\(b.port) } ] }
            """
        }
        let sluice = try SluiceProcess(yaml: yaml(["keep", "gone"]))
        let keepPort = try sluice.port(of: "keep")
        let gonePort = try sluice.port(of: "gone")
        let kept = try TestClient(port: keepPort)
        #expect(try kept.request("GET / HTTP/1.1\r\nHost: a\r\n\r\n").status == 200)
        let draining = try TestClient(port: gonePort)
        #expect(try draining.request("GET / HTTP/1.1\r\nHost: a\r\n\r\n").status == 200)

        try ("admin: { listen: 127.0.0.1:0 }\n" + yaml(["keep", "added"])).write(
            toFile: sluice.configPath, atomically: true, encoding: .utf8)
        sluice.signal(SIGHUP)
        let addedPort = try sluice.port(of: "added")
        // The kept listener's socket and its kept-alive connection carry on.
        #expect(try kept.request("GET / HTTP/1.1\r\nHost: a\r\n\r\n").status == 200)
        #expect(try get(keepPort, "/").status == 200)
        #expect(try get(addedPort, "/").status == 200)
        // The removed listener accepts nothing new, and its idle connection was closed.
        #expect(throws: (any Error).self) { _ = try TestClient(port: gonePort) }
        #expect(draining.isClosedByServer())
        sluice.signal(SIGTERM)
        #expect(sluice.waitForExit(timeout: 10) == 0)
    }

    /// Issue 6.1: a reload that removed a listener while it had a request in flight crashed the
    /// process when the request ended (its index into per-listener tables was -1).
    @Test func removingAListenerWithARequestInFlightFinishesTheRequest() throws {
        let b = try backend("app1")
        func yaml(_ listeners: [String]) -> String {
            """
            admin: { listen: 127.0.0.1:0 }
            workers: 2
            listeners:
            \(listeners.map { "  - { name: \($0), listen: 127.0.0.1:0, routes: [ { cluster: app } ] }" }.joined(separator: "\n"))
            clusters:
              - { name: app, backends: [ { address: 127.0.0.1:\(b.port) } ] }
            """
        }
        let sluice = try SluiceProcess(yaml: yaml(["web", "old"]))
        let webPort = try sluice.port(of: "web")
        let oldPort = try sluice.port(of: "old")
        let adminPort = try sluice.adminPort()
        let c = try TestClient(port: oldPort)
        try c.send("GET /delay/1000 HTTP/1.1\r\nHost: a\r\n\r\n")
        usleep(300_000)
        try yaml(["web"]).write(toFile: sluice.configPath, atomically: true, encoding: .utf8)
        sluice.signal(SIGHUP)
        let r = try c.readResponse()
        #expect(r.status == 200)
        #expect(r.complete)
        #expect(r.header("connection")?.lowercased() == "close")
        #expect(c.isClosedByServer())
        // Nothing crashed: the kept listener and the admin listener still answer.
        #expect(try get(webPort, "/").status == 200)
        let metrics = try get(adminPort, "/metrics").text
        #expect(metrics.contains("sluice_requests_total{listener=\"old\",cluster=\"app\",code=\"200\"} 1"))
        sluice.signal(SIGTERM)
        #expect(sluice.waitForExit(timeout: 10) == 0)
    }
}
