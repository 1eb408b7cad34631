import Foundation
import Glibc
import Synchronization
import Testing

/// Issue 6.9: a closed connection must release its session at once (timers held them until
/// `client_idle`), and reloads under load must not pile up memory. Measured on the real binary
/// through /proc/PID/status, as an operator would see it.
@Suite(.serialized) struct MemoryTests {
    static func yaml(_ port: Int, weight: Int = 1) -> String {
        """
        workers: 2
        access_log: { path: off }
        timeouts: { client_idle: 60s }
        listeners:
          - { name: web, listen: 127.0.0.1:0, routes: [ { cluster: app } ] }
        clusters:
          - name: app
            health_check: { path: /, interval: 1s }
            backends: [ { name: app1, address: 127.0.0.1:\(port), weight: \(weight) } ]
        """
    }

    /// Short connections from `threads` threads, each one request with `Connection: close`.
    static func shortConnections(_ port: Int, total: Int, threads: Int = 2) -> Int {
        let failures = Mutex(0)
        DispatchQueue.concurrentPerform(iterations: threads) { _ in
            for _ in 0..<(total / threads) {
                let ok = (try? get(port, "/").status == 200) ?? false
                if !ok { failures.withLock { $0 += 1 } }
            }
        }
        return failures.withLock { $0 }
    }

    @Test func closedConnectionsGiveTheirMemoryBack() throws {
        let b = try backend("app1")
        let sluice = try SluiceProcess(yaml: Self.yaml(b.port))
        let port = try sluice.port(of: "web")
        #expect(Self.shortConnections(port, total: 2_000) == 0)
        let baseline = sluice.memoryKiB().current
        let n = Int(ProcessInfo.processInfo.environment["SLUICE_MEMORY_CONNECTIONS"] ?? "") ?? 10_000
        #expect(Self.shortConnections(port, total: n) == 0)
        let after = sluice.memoryKiB().current
        // Held sessions cost more than 1 KiB each: 10,000 of them would add 10 MB or more.
        #expect(after - baseline < 4_096, "RSS \(baseline) KiB -> \(after) KiB after \(n) connections")
        print("memory: \(n) short connections: RSS \(baseline) KiB -> \(after) KiB")
        sluice.signal(SIGTERM)
        #expect(sluice.waitForExit(timeout: 10) == 0)
    }

    @Test func reloadsUnderLoadDoNotPileUpMemory() throws {
        let b = try backend("app1")
        let sluice = try SluiceProcess(yaml: Self.yaml(b.port))
        let port = try sluice.port(of: "web")
        let admin = try sluice.adminPort()
        let stop = Atomic<Bool>(false)
        let failures = Atomic<Int>(0)
        let served = Atomic<Int>(0)
        // One loader keeps its connection alive, the other opens a new one per request.
        let loaders = (0..<2).map { k in
            Thread {
                guard let c = try? TestClient(port: port) else { return }
                while !stop.load(ordering: .relaxed) {
                    let status =
                        k == 0 ? try? c.request("GET / HTTP/1.1\r\nHost: a\r\n\r\n").status : try? get(port, "/").status
                    if status == 200 {
                        served.wrappingAdd(1, ordering: .relaxed)
                    } else {
                        failures.wrappingAdd(1, ordering: .relaxed)
                        return
                    }
                }
            }
        }
        for t in loaders { t.start() }
        func reload(_ k: Int) throws {
            try Self.yaml(b.port, weight: 1 + k % 5).write(toFile: sluice.configPath, atomically: true, encoding: .utf8)
            sluice.signal(SIGHUP)
            let deadline = Date().addingTimeInterval(5)
            while Date() < deadline {
                if let s = try? get(admin, "/status").text, s.contains("\"generation\":\(k + 2)") || s.contains("\"generation\" : \(k + 2)")
                {
                    return
                }
                usleep(5_000)
            }
            Issue.record("reload \(k + 1) did not apply")
        }
        try reload(0)
        usleep(300_000)
        let first = sluice.memoryKiB().current
        for k in 1..<100 { try reload(k) }
        usleep(300_000)
        let last = sluice.memoryKiB().current
        stop.store(true, ordering: .relaxed)
        usleep(100_000)
        #expect(failures.load(ordering: .relaxed) == 0)
        #expect(served.load(ordering: .relaxed) > 100)
        #expect(Double(last) <= Double(first) * 1.10, "RSS after the first reload \(first) KiB, after 100: \(last) KiB")
        print("memory: 100 reloads under load: RSS \(first) KiB -> \(last) KiB")
        sluice.signal(SIGTERM)
        #expect(sluice.waitForExit(timeout: 10) == 0)
    }
}
