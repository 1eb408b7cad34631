import Foundation
import Glibc
import SluiceBackend
import Testing

/// `discovery.file` through the real binary with two workers: a backend written into the file
/// joins after its first passing check, one taken out drains with no client error, a bad file
/// keeps the last good set, and `max_removed` paces a large removal.
@Suite(.serialized) struct FileDiscoveryTests {
    static func yaml(file: String, refresh: String = "1s", maxRemoved: String = "50%") -> String {
        """
        workers: 2
        access_log: { path: off }
        listeners:
          - { name: web, listen: 127.0.0.1:0, routes: [ { cluster: app } ] }
        clusters:
          - name: app
            health_check: { path: /health, interval: 200ms, timeout: 150ms, rise: 1, fall: 1 }
            discovery:
              file: \(file)
              refresh: \(refresh)
              max_removed: \(maxRemoved)
        """
    }

    static func entry(_ name: String, _ b: DemoBackend) -> String {
        "- { name: \(name), address: 127.0.0.1:\(b.port) }"
    }

    @Test func aWrittenBackendJoinsAfterItsFirstPassingCheckAndARemovedOneDrainsWithoutErrors() throws {
        let a = try backend("a")
        let b = try backend("b", BackendBehavior(healthy: false))
        let list = NSTemporaryDirectory() + "sluice-file-\(UUID().uuidString).yaml"
        defer { try? FileManager.default.removeItem(atPath: list) }
        try DiscoveryRig.write(Self.entry("a", a) + "\n", to: list)
        let sluice = try SluiceProcess(yaml: Self.yaml(file: list))
        defer {
            sluice.signal(SIGTERM)
            _ = sluice.waitForExit(timeout: 10)
        }
        let port = try sluice.port(of: "web")
        let admin = try sluice.adminPort()
        #expect(DiscoveryRig.until(5) { (try? get(port, "/").status) == 200 } != nil, "a joins from the file")
        let first = try DiscoveryRig.backends(admin)
        #expect(first["a"]?["source"] as? String == "file")

        // b is written in while its /health fails: it is in the cluster, unhealthy, and gets nothing.
        try DiscoveryRig.write([Self.entry("a", a), Self.entry("b", b)].joined(separator: "\n") + "\n", to: list)
        #expect(DiscoveryRig.until(3) { try DiscoveryRig.backends(admin)["b"] != nil } != nil, "b is read within the 1 s poll")
        #expect(try DiscoveryRig.backends(admin)["b"]?["state"] as? String == "unhealthy")
        for _ in 0..<40 { #expect(try get(port, "/").header("x-backend") == "a") }
        #expect(b.ordinaryRequests == 0, "no request before a passing check")

        // Its check passes: it takes traffic.
        var well = b.behavior
        well.healthy = true
        b.behavior = well
        #expect(DiscoveryRig.until(3) { try get(port, "/").header("x-backend") == "b" } != nil)

        // Under load, a is taken out of the file: it drains, then leaves /status; no client error.
        let load = SteadyLoad(port: port, rate: 200)
        usleep(500_000)
        try DiscoveryRig.write(Self.entry("b", b) + "\n", to: list)
        let gone = DiscoveryRig.until(6) { try DiscoveryRig.backends(admin)["a"] == nil }
        usleep(500_000)
        load.stop()
        #expect(gone != nil, "a is removed once idle")
        #expect(load.errorList.isEmpty, "\(load.errorList.prefix(5))")
        #expect(load.ok > 100)
        let tail = load.answers.filter { $0.t > load.answers.last!.t - 0.4 }
        #expect(!tail.isEmpty && tail.allSatisfy { $0.backend == "b" })
        #expect(sluice.log.contains("backend leaving: draining"))
        #expect(sluice.log.contains("backend removed"))
    }

    @Test func aBadOrMissingFileKeepsTheLastGoodSet() throws {
        let a = try backend("a")
        let list = NSTemporaryDirectory() + "sluice-file-\(UUID().uuidString).yaml"
        defer { try? FileManager.default.removeItem(atPath: list) }
        try DiscoveryRig.write(Self.entry("a", a) + "\n", to: list)
        let sluice = try SluiceProcess(yaml: Self.yaml(file: list))
        defer {
            sluice.signal(SIGTERM)
            _ = sluice.waitForExit(timeout: 10)
        }
        let port = try sluice.port(of: "web")
        let admin = try sluice.adminPort()
        #expect(DiscoveryRig.until(5) { (try? get(port, "/").status) == 200 } != nil)
        let errorSeries = "sluice_discovery_refreshes_total{cluster=\"app\",result=\"error\"}"
        #expect(try DiscoveryRig.metric(admin, errorSeries) == 0)

        // A bad second entry (a host name): the whole file is refused, a keeps serving.
        try DiscoveryRig.write(Self.entry("a", a) + "\n- { name: c, address: shop.internal:80 }\n", to: list)
        #expect(DiscoveryRig.until(4) { (try DiscoveryRig.metric(admin, errorSeries) ?? 0) >= 1 } != nil)
        #expect(DiscoveryRig.until(5) { sluice.log.contains("\(list):2:") } != nil, "the error names FILE:LINE")
        // Truncated to nothing (a non-atomic writer caught mid-write), then deleted.
        try "".write(toFile: list, atomically: false, encoding: .utf8)
        usleep(1_500_000)
        try FileManager.default.removeItem(atPath: list)
        usleep(1_500_000)
        for _ in 0..<20 { #expect(try get(port, "/").status == 200) }
        #expect(try DiscoveryRig.backends(admin).keys.sorted() == ["a"])
        let status = try DiscoveryRig.cluster(admin)["discovery"] as? [String: Any]
        #expect(status?["last_result"] as? String == "error")
        #expect(status?["source"] as? String == "file")
        // Each distinct error is logged once, not once per second.
        let lines = sluice.log.split(separator: "\n").filter { $0.contains("discovery failed") }
        #expect(lines.count == 3, "\(lines)")
    }

    @Test func maxRemovedPacesALargeRemoval() throws {
        let bs = try (0..<4).map { try backend("b\($0)") }
        let list = NSTemporaryDirectory() + "sluice-file-\(UUID().uuidString).yaml"
        defer { try? FileManager.default.removeItem(atPath: list) }
        try DiscoveryRig.write(bs.enumerated().map { Self.entry("b\($0.offset)", $0.element) }.joined(separator: "\n"), to: list)
        let sluice = try SluiceProcess(yaml: Self.yaml(file: list, refresh: "3s"))
        defer {
            sluice.signal(SIGTERM)
            _ = sluice.waitForExit(timeout: 10)
        }
        let admin = try sluice.adminPort()
        #expect(DiscoveryRig.until(5) { try DiscoveryRig.backends(admin).count == 4 } != nil)
        // The file owns these: DELETE and a weight would be undone at its next read, so both are refused.
        let delete = try DiscoveryRig.call(admin, "DELETE", "/clusters/app/backends/b1")
        #expect(delete.status == 409 && String(decoding: delete.body, as: UTF8.self).contains("comes from file"))
        #expect(try DiscoveryRig.call(admin, "PUT", "/clusters/app/backends/b1/weight", body: "5").status == 409)
        #expect(try DiscoveryRig.call(admin, "POST", "/clusters/app/backends/b1/drain").status == 200, "drain still works")
        #expect(try DiscoveryRig.call(admin, "POST", "/clusters/app/backends/b1/enable").status == 200)
        // 3 of 4 go at once: 50% of 4 = 2 drain now, the third at the next refresh (3 s later).
        try DiscoveryRig.write(Self.entry("b0", bs[0]), to: list)
        #expect(DiscoveryRig.until(3) { try DiscoveryRig.backends(admin).count == 2 } != nil)
        let held = try DiscoveryRig.cluster(admin)["discovery"] as? [String: Any]
        #expect(held?["removals_held_back"] as? Int == 1)
        #expect(try DiscoveryRig.backends(admin).count == 2, "the third waits for the next refresh")
        #expect(DiscoveryRig.until(5) { try DiscoveryRig.backends(admin).keys.sorted() == ["b0"] } != nil)
        #expect(sluice.log.contains("max_removed"))
    }
}
