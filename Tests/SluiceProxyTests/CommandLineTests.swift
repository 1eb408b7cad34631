import Foundation
import Glibc
import SluiceBackend
import SluiceConfig
import Testing

/// End-to-end through the real binary: command line, signals, memory.
@Suite(.serialized) struct CommandLineTests {
    static var repo: URL { URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardized }

    @Test func checkAcceptsEveryExampleConfig() throws {
        let dir = Self.repo.appendingPathComponent("Configs")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".yaml") }
        #expect(files.count >= 2)
        for f in files {
            let (status, out, err) = try SluiceProcess.runToEnd(["check", "--config", dir.appendingPathComponent(f).path])
            #expect(status == 0, "\(f): \(err)")
            #expect(out.contains("ok"))
        }
    }

    @Test func theShippedBackendListDecodes() throws {
        let path = Self.repo.appendingPathComponent("Configs/discovery/batch-backends.yaml").path
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let entries = try BackendListFile.decode(text, file: path).get()
        #expect(entries.map(\.name) == ["batch1", "batch2", "batch-spare"])
        #expect(entries.map(\.standby) == [false, false, true])
        let config = try ConfigLoader.load(path: Self.repo.appendingPathComponent("Configs/autoscaling.yaml").path)
        #expect(config.clusters.first { $0.name == "batch" }?.discovery?.source == .file(path))
    }

    @Test func checkPrintsEveryErrorWithFileAndLine() throws {
        let path = NSTemporaryDirectory() + "bad-\(UUID().uuidString).yaml"
        try """
        listeners:
          - name: web
            listen: 127.0.0.1:8080
            routes:
              - cluster: missing
        clusters:
          - name: app
            colour: blue
            backends:
              - { address: 127.0.0.1:8001, weight: heavy }
        """.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (status, _, err) = try SluiceProcess.runToEnd(["check", "--config", path])
        #expect(status == 1)
        #expect(err.contains("\(path):5: listeners[0].routes[0]: unknown cluster \"missing\""))
        #expect(err.contains("\(path):8: unknown key \"colour\""))
        #expect(err.contains("\(path):10: "))
    }

    @Test func checkRefusesAListenerOnTheAdminAddress() throws {
        let path = NSTemporaryDirectory() + "clash-\(UUID().uuidString).yaml"
        try """
        admin:
          listen: 127.0.0.1:9911
        listeners:
          - name: web
            listen: 127.0.0.1:9911
            routes: [ { cluster: app } ]
        clusters:
          - { name: app, backends: [ { address: 127.0.0.1:8001 } ] }
        """.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (status, _, err) = try SluiceProcess.runToEnd(["check", "--config", path])
        #expect(status == 1)
        #expect(
            err.contains(
                "\(path):5: listeners[0].listen: 127.0.0.1:9911 is where the admin listener listens (admin.listen 127.0.0.1:9911, line 2)"
            ), "\(err)")
    }

    /// A port another program holds (bound without SO_REUSEPORT, so Sluice's bind fails).
    static func occupiedPort() throws -> (fd: Int32, port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let rc = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { p in
                bind(fd, p, len) == 0 && listen(fd, 8) == 0 && getsockname(fd, p, &len) == 0
            }
        }
        if !rc { throw TestClientError(description: "cannot occupy a port: errno \(errno)") }
        return (fd, Int(UInt16(bigEndian: addr.sin_port)))
    }

    @Test func runNamesTheListenerItsAddressAndLineWhenItCannotListen() throws {
        let (fd, port) = try Self.occupiedPort()
        defer { close(fd) }
        let sluice = try SluiceProcess(
            yaml: """
                access_log: { path: off }
                listeners:
                  - name: web
                    listen: 127.0.0.1:\(port)
                    routes: [ { cluster: app } ]
                clusters:
                  - { name: app, backends: [ { address: 127.0.0.1:8001 } ] }
                """)
        #expect(sluice.waitForExit(timeout: 20) == 1)
        // Line 5: SluiceProcess puts an admin line first. Stderr arrives asynchronously.
        let expected = "\(sluice.configPath):5: listener web: cannot listen on 127.0.0.1:\(port): bind: Address already in use"
        let deadline = Date().addingTimeInterval(5)
        while !sluice.log.contains(expected) && Date() < deadline { usleep(20_000) }
        #expect(sluice.log.contains(expected), "\(sluice.log)")
    }

    @Test func versionAndHelp() throws {
        let (s1, out1, _) = try SluiceProcess.runToEnd(["--version"])
        #expect(s1 == 0)
        #expect(out1.contains("0."))
        let (s2, out2, _) = try SluiceProcess.runToEnd(["--help"])
        #expect(s2 == 0)
        #expect(out2.contains("check") && out2.contains("run") && out2.contains("demo"))
    }

    @Test func sigtermFinishesTheInFlightRequestThenExitsZero() throws {
        let b = try backend("app1")
        let sluice = try SluiceProcess(
            yaml: """
                workers: 2
                timeouts: { drain: 10s }
                listeners:
                  - { name: web, listen: 127.0.0.1:0, routes: [ { cluster: app } ] }
                clusters:
                  - { name: app, backends: [ { address: 127.0.0.1:\(b.port) } ] }
                """)
        let port = try sluice.port(of: "web")
        let c = try TestClient(port: port)
        // An ordinary request in its service time (the backend counts it as active).
        b.behavior = BackendBehavior(delay: 800_000_000)
        try c.send("GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
        let deadline = Date().addingTimeInterval(10)
        while b.activeRequests == 0 && Date() < deadline { usleep(5_000) }
        #expect(b.activeRequests == 1)
        sluice.signal(SIGTERM)
        let r = try c.readResponse()
        #expect(r.status == 200)
        #expect(r.header("Connection") == "close")
        #expect(sluice.waitForExit(timeout: 10) == 0)
        // Stopped accepting: nobody listens any more.
        #expect(throws: (any Error).self) { _ = try TestClient(port: port) }
    }

    @Test func twentyMegabytesEachWayInBoundedMemory() throws {
        let b = try backend("app1")
        let sluice = try SluiceProcess(
            yaml: """
                workers: 1
                access_log: { path: off }
                listeners:
                  - { name: web, listen: 127.0.0.1:0, routes: [ { cluster: app } ] }
                clusters:
                  - { name: app, backends: [ { address: 127.0.0.1:\(b.port) } ] }
                """)
        let port = try sluice.port(of: "web")
        // Warm up so the baseline includes the runtime's own memory.
        #expect(try get(port, "/bytes/100000").body.count == 100_000)
        let before = sluice.memoryKiB().peak
        let size = 20 * 1024 * 1024
        // Download.
        let down = try get(port, "/bytes/\(size)")
        #expect(down.body.count == size)
        // Upload, echoed back: 20 MB up and 20 MB down at once, through bounded buffers.
        let c = try TestClient(port: port, timeoutSeconds: 30)
        try c.send("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: \(size)\r\n\r\n")
        let chunk = [UInt8](repeating: UInt8(ascii: "u"), count: 256 * 1024)
        let echoed = Box()
        let done = DispatchSemaphore(value: 0)
        let t = Thread {
            if let r = try? c.readResponse() { echoed.value = r.body.count }
            done.signal()
        }
        t.start()
        for _ in 0..<(size / chunk.count) { try c.send(chunk) }
        done.wait()
        #expect(echoed.value == size)
        let grown = sluice.memoryKiB().peak - before
        #expect(grown < 8 * 1024, "peak RSS grew by \(grown) KiB while moving 60 MB")
        sluice.signal(SIGTERM)
        #expect(sluice.waitForExit(timeout: 10) == 0)
    }
}

final class Box: @unchecked Sendable {
    var value = 0
}
