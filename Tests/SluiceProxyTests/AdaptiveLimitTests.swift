import Foundation
import Glibc
import Synchronization
import Testing

/// `limits.adaptive` through the real binary: the limit follows what the backend serves at once.
@Suite(.serialized) struct AdaptiveLimitTests {
    /// `clients` keep-alive connections, each sending its next request once answered, until
    /// `stop()`. Bounded: every read times out after 10 s.
    final class Load: @unchecked Sendable {
        let stopped = Atomic<Bool>(false)
        let ok = Atomic<Int>(0)
        let other = Atomic<Int>(0)
        let done = DispatchGroup()

        init(port: Int, clients: Int) {
            for _ in 0..<clients {
                done.enter()
                Thread { [self] in
                    defer { done.leave() }
                    var c: TestClient?
                    while !stopped.load(ordering: .relaxed) {
                        do {
                            if c == nil { c = try TestClient(port: port) }
                            let r = try c!.request("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
                            if r.status == 200 {
                                ok.wrappingAdd(1, ordering: .relaxed)
                            } else {
                                other.wrappingAdd(1, ordering: .relaxed)
                            }
                            if r.header("Connection")?.lowercased() == "close" { c = nil }
                        } catch {
                            other.wrappingAdd(1, ordering: .relaxed)
                            c = nil
                        }
                    }
                }.start()
            }
        }

        func stop() {
            stopped.store(true, ordering: .relaxed)
            _ = done.wait(timeout: .now() + 15)
        }
    }

    func config(_ backend: WorkerPoolBackend, adaptive: Bool) -> String {
        """
        workers: 1
        access_log: { path: off }
        listeners:
          - { name: web, listen: 127.0.0.1:0, routes: [ { cluster: app } ] }
        clusters:
          - name: app
            limits: { max_requests_per_backend: 200, adaptive: \(adaptive), max_queue: 1000, queue_timeout: 10s, queue_target: 0ms }
            backends:
              - { name: a, address: 127.0.0.1:\(backend.port) }
        """
    }

    /// `sluice_backend_limit` of backend `a` now.
    func limit(_ admin: Int) throws -> Int {
        let text = try get(admin, "/metrics").text
        let line = text.split(separator: "\n").first { $0.hasPrefix("sluice_backend_limit{cluster=\"app\",backend=\"a\"}") }
        return line.flatMap { Int($0.split(separator: " ").last ?? "") } ?? -1
    }

    /// The limits read every 250 ms for `seconds`.
    func watch(_ admin: Int, seconds: Double) throws -> [Int] {
        var out: [Int] = []
        for _ in 0..<Int(seconds * 4) {
            usleep(250_000)
            out.append(try limit(admin))
        }
        return out
    }

    /// The limit is enforced process-wide through `ClusterRuntime.limit(for:)` (about 8 s).
    @Test
    func theLimitFallsToWhatTheBackendServesAtOnceAndADoubledServiceTimeDoesNotRaiseIt() throws {
        // 16 workers first, then 4 (a lock in the backend's database), 20 ms a request,
        // offered 40 requests at once all along.
        let b = try WorkerPoolBackend(workers: 16, serviceMicros: 20_000)
        defer { b.stop() }
        let sluice = try SluiceProcess(yaml: config(b, adaptive: true))
        let port = try sluice.port(of: "web")
        let admin = try sluice.adminPort()
        let load = Load(port: port, clients: 40)
        defer { load.stop() }

        let wide = try watch(admin, seconds: 2)
        #expect(wide.last! >= 14 && wide.last! <= 40, "with 16 workers: \(wide)")

        b.workers = 4
        let narrow = try watch(admin, seconds: 3)
        // Well below 200 and towards 4 (the square-root headroom keeps a queue of about 2-3).
        #expect(narrow.suffix(2).allSatisfy { $0 >= 4 && $0 <= 12 }, "with 4 workers: \(narrow)")
        b.resetPeak()

        b.serviceMicros = 40_000
        let slower = try watch(admin, seconds: 2.5)
        #expect(slower.allSatisfy { $0 >= 4 && $0 <= max(12, narrow.last! + 2) }, "at 40 ms: \(slower)")
        // The backend itself never held more than the limit allows: Sluice queued the rest.
        #expect(b.peakInside <= 14, "peak inside the backend: \(b.peakInside)")
        load.stop()
        #expect(load.ok.load(ordering: .relaxed) > 300 && load.other.load(ordering: .relaxed) == 0)
        sluice.signal(SIGTERM)
        #expect(sluice.waitForExit(timeout: 10) == 0)
    }

    @Test func withoutAdaptiveTheLimitIsTheConfiguredOne() throws {
        let b = try WorkerPoolBackend(workers: 4, serviceMicros: 20_000)
        defer { b.stop() }
        let sluice = try SluiceProcess(yaml: config(b, adaptive: false))
        let port = try sluice.port(of: "web")
        let admin = try sluice.adminPort()
        let load = Load(port: port, clients: 40)
        defer { load.stop() }
        #expect(try watch(admin, seconds: 1.5).allSatisfy { $0 == 200 })
        // All 40 reach the backend: nothing holds them back.
        #expect(b.peakInside >= 30, "peak inside the backend: \(b.peakInside)")
        load.stop()
        sluice.signal(SIGTERM)
        #expect(sluice.waitForExit(timeout: 10) == 0)
    }
}
