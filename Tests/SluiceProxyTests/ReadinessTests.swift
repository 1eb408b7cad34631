import Foundation
import Glibc
import SluiceBackend
import Testing

/// `/readyz` through the real binary (DESIGN §3 "High availability of Sluice itself"): 503
/// until every cluster has had its first health checks, then 200; on SIGTERM 503 at once
/// while the listeners keep accepting for `timeouts.ready_grace`, then a clean exit.
@Suite(.serialized) struct ReadinessTests {
    @Test func notReadyUntilTheFirstChecksAndNotReadyAtOnceOnSIGTERMWhileStillServingForTheGrace() throws {
        let fast = try backend("fast")
        // Its /health answers after 4 s: the first round of checks ends then.
        let slow = try RawBackend(reply: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", delayMillis: 4000)
        let sluice = try SluiceProcess(
            yaml: """
                workers: 2
                access_log: { path: off }
                timeouts: { ready_grace: 1500ms, drain: 5s }
                listeners:
                  - { name: web, listen: 127.0.0.1:0, routes: [ { cluster: app } ] }
                clusters:
                  - name: app
                    health_check: { path: /health, interval: 6s, timeout: 5s, rise: 1, fall: 1 }
                    backends:
                      - { name: fast, address: 127.0.0.1:\(fast.port) }
                      - { name: slow, address: 127.0.0.1:\(slow.port) }
                """)
        let admin = try sluice.adminPort()
        let port = try sluice.port(of: "web")
        let early = try get(admin, "/readyz")
        #expect(early.status == 503)
        // The slow one for sure; the fast one too when the process is slow (under a sanitizer).
        let why = String(decoding: early.body, as: UTF8.self)
        #expect(why.hasPrefix("not ready: starting (") && why.contains(" of 2 backends not checked yet"), "\(why)")
        #expect(try get(admin, "/healthz").status == 200, "alive while not ready")
        let ready = DiscoveryRig.until(8) { try get(admin, "/readyz").status == 200 }
        #expect(ready != nil, "ready once the slow check answered")
        // The log comes through a pipe read by another thread: it may trail the answer.
        #expect(DiscoveryRig.until(5) { sluice.log.contains("ready: every cluster has had its first health checks") } != nil)

        let sent = Date()
        sluice.signal(SIGTERM)
        let stopping = DiscoveryRig.until(1) { try get(admin, "/readyz").status == 503 }
        #expect(stopping != nil && stopping! < 1, "503 at once: \(stopping ?? -1) s")
        #expect(String(decoding: try get(admin, "/readyz").body, as: UTF8.self) == "not ready: stopping\n")
        // Within the grace a new connection is still accepted and answered.
        #expect(try get(port, "/").status == 200)
        usleep(500_000)
        #expect(try get(port, "/").status == 200)
        #expect(sluice.waitForExit(timeout: 10) == 0)
        // The listeners closed no earlier than the grace after the signal (the exit comes after).
        #expect(Date().timeIntervalSince(sent) >= 1.4, "it waited for ready_grace: \(Date().timeIntervalSince(sent)) s")
        #expect((try? get(port, "/")) == nil, "after the grace the listener is closed")
    }

    @Test func withoutHealthChecksItIsReadyAtOnceAndStopsWithoutAGrace() throws {
        let b = try backend("b")
        let sluice = try SluiceProcess(
            yaml: """
                access_log: { path: off }
                listeners:
                  - { name: web, listen: 127.0.0.1:0, routes: [ { cluster: app } ] }
                clusters:
                  - name: app
                    backends: [ { address: 127.0.0.1:\(b.port) } ]
                """)
        let admin = try sluice.adminPort()
        #expect(DiscoveryRig.until(2) { try get(admin, "/readyz").status == 200 } != nil)
        let sent = Date()
        sluice.signal(SIGTERM)
        #expect(sluice.waitForExit(timeout: 10) == 0)
        #expect(Date().timeIntervalSince(sent) < 2, "ready_grace defaults to 0s")
    }
}
