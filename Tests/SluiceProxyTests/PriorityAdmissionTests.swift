import Foundation
import Glibc
import SluiceBackend
import Testing

@testable import SluiceProxy

/// DESIGN §3 "Priorities under overload": limits count across workers (a free slot anywhere
/// serves the best waiter, whichever worker holds it), critical before sheddable, the
/// critical reserve, computed Retry-After. Real sockets, two workers, a backend that serves
/// slowly and counts what it serves at once.
@Suite(.serialized) struct PriorityAdmissionTests {
    static func yaml(_ b: DemoBackend, limits: String) -> String {
        """
        workers: 2
        access_log: { path: off }
        listeners:
          - name: web
            listen: 127.0.0.1:0
            routes:
              - match: { path_prefix: /checkout/ }
                cluster: app
                priority: critical
              - match: { path_prefix: /products/ }
                cluster: app
                priority: sheddable
              - cluster: app
        clusters:
          - name: app
            backends:
              - { name: a, address: 127.0.0.1:\(b.port) }
            limits: \(limits)
        """
    }

    /// Runs `body` on worker `i`'s loop thread and returns its result.
    func on<T: Sendable>(_ proxy: ProxyFixture, worker i: Int, _ body: @escaping @Sendable (Worker) -> T) -> T {
        let w = proxy.server.workers[i]
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var out: T? = nil
        w.loop.execute {
            out = body(w)
            done.signal()
        }
        done.wait()
        return out!
    }

    /// Waits up to 3 s for `cond`.
    func eventually(_ cond: () -> Bool) -> Bool {
        for _ in 0..<300 {
            if cond() { return true }
            usleep(10_000)
        }
        return cond()
    }

    /// The worker that accepted `c` (found by the client's local port among its sessions).
    func worker(of c: TestClient, _ proxy: ProxyFixture) -> Int? {
        var a = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(c.fd, $0, &len) } }
        let port = Int(UInt16(bigEndian: a.sin_port))
        for i in 0..<2 {
            let here = on(proxy, worker: i) { w in w.sessions.contains { $0?.peer.port == port } }
            if here { return i }
        }
        return nil
    }

    /// Connections until there is one on each worker for every entry of `wanted` (worker indices).
    func clients(on wanted: [Int], _ proxy: ProxyFixture) throws -> [TestClient] {
        var pool: [Int: [TestClient]] = [0: [], 1: []]
        for _ in 0..<64 {
            let c = try TestClient(port: proxy.port)
            guard eventually({ worker(of: c, proxy) != nil }), let w = worker(of: c, proxy) else { continue }
            pool[w]!.append(c)
            if wanted.allSatisfy({ k in pool[k]!.count >= wanted.filter { $0 == k }.count }) { break }
        }
        var out: [TestClient] = []
        for k in wanted { out.append(pool[k]!.removeFirst()) }
        return out
    }

    func queued(_ proxy: ProxyFixture) -> Int {
        on(proxy, worker: 0) { w in w.clusters[0].runtime.admission?.snapshot(now: 0).waiting ?? 0 }
    }

    @Test func noCapacityIsLostWhenEveryConnectionLandsOnOneWorker() throws {
        let b = try backend("a", BackendBehavior(delay: 400_000_000))
        let proxy = try ProxyFixture(Self.yaml(b, limits: "{ max_requests_per_backend: 4, max_queue: 16, queue_target: 0ms }"))
        let cs = try clients(on: Array(repeating: 0, count: 8), proxy)
        for c in cs { try c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n") }
        // The whole limit is in use from one worker (a per-worker split would stop at 2).
        #expect(eventually { b.activeRequests == 4 }, "\(b.activeRequests)")
        #expect(eventually { queued(proxy) == 4 })
        usleep(100_000)
        #expect(b.activeRequests == 4, "never more than the limit")
        let rs = try cs.map { try $0.readResponse() }
        #expect(rs.allSatisfy { $0.status == 200 }, "\(rs.map(\.status))")
    }

    @Test func aSlotFreedOnOneWorkerServesTheMostImportantWaiterOnTheOther() throws {
        let b = try backend("a", BackendBehavior(delay: 300_000_000))
        let proxy = try ProxyFixture(
            Self.yaml(b, limits: "{ max_requests_per_backend: 1, max_queue: 16, queue_timeout: 5s, queue_target: 0ms }"))
        // first and browse on worker 0, checkout on worker 1.
        let cs = try clients(on: [0, 0, 1], proxy)
        let (first, browse, checkout) = (cs[0], cs[1], cs[2])
        try first.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(eventually { b.activeRequests == 1 })
        try browse.send("GET /products/1 HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(eventually { queued(proxy) == 1 })
        try checkout.send("GET /checkout/pay HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(eventually { queued(proxy) == 2 })
        #expect(try first.readResponse().status == 200)
        // The slot freed on worker 0; the critical waiter of worker 1 takes it, though the
        // sheddable one on worker 0 waited longer.
        let start = Date()
        #expect(try checkout.readResponse().status == 200)
        let checkoutDone = Date().timeIntervalSince(start)
        #expect(try browse.readResponse().status == 200)
        let browseDone = Date().timeIntervalSince(start)
        #expect(checkoutDone < 0.45, "\(checkoutDone)")
        #expect(browseDone > checkoutDone + 0.2, "\(browseDone) vs \(checkoutDone)")
    }

    @Test func theCriticalReserveIsKeptFromOthersAndOpenToCritical() throws {
        let b = try backend("a", BackendBehavior(delay: 500_000_000))
        let proxy = try ProxyFixture(
            Self.yaml(b, limits: "{ max_requests_per_backend: 10, reserve_for_critical: 20%, max_queue: 16, queue_target: 0ms }"))
        let normal = try (0..<10).map { _ in try TestClient(port: proxy.port) }
        for c in normal { try c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n") }
        // Normal requests stop at 8 of 10 slots; the other 2 wait.
        #expect(eventually { b.activeRequests == 8 && queued(proxy) == 2 }, "\(b.activeRequests) \(queued(proxy))")
        let critical = try (0..<2).map { _ in try TestClient(port: proxy.port) }
        for c in critical { try c.send("GET /checkout/x HTTP/1.1\r\nHost: a\r\n\r\n") }
        // Critical ones take the reserve at once, ahead of the queue.
        #expect(eventually { b.activeRequests == 10 }, "\(b.activeRequests)")
        #expect(queued(proxy) == 2)
        for c in normal + critical { #expect(try c.readResponse().status == 200) }
    }

    @Test func shedAnswersCarryARetryAfterFromTheDrainTimeAndCountByPriority() throws {
        let b = try backend("a", BackendBehavior(delay: 200_000_000))
        let proxy = try ProxyFixture(Self.yaml(b, limits: "{ max_requests_per_backend: 1, max_queue: 1, queue_target: 0ms }"))
        let cs = try (0..<6).map { _ in try TestClient(port: proxy.port) }
        for c in cs { try c.send("GET /products/\(c.fd) HTTP/1.1\r\nHost: a\r\n\r\n") }
        let rs = try cs.map { try $0.readResponse() }
        let shed = rs.filter { $0.status == 503 }
        #expect(shed.count == 4, "\(rs.map(\.status))")
        for r in shed {
            let v = Int(r.header("Retry-After") ?? "") ?? 0
            #expect((1...60).contains(v), "\(r.header("Retry-After") ?? "none")")
        }
        let text = PrometheusText.render(proxy.server.sample())
        #expect(text.contains("sluice_shed_total{cluster=\"app\",reason=\"queue_full\",priority=\"sheddable\"} 4"))
        #expect(text.contains("sluice_shed_total{cluster=\"app\",reason=\"queue_full\",priority=\"normal\"} 0"))
    }
}

/// A backend's own `Retry-After` reaches the client untouched (DESIGN §3), with or without
/// `limits` on its cluster.
@Suite struct BackendRetryAfterTests {
    @Test(arguments: ["", "    limits: { max_requests_per_backend: 4 }"])
    func aBackendsOwnRetryAfterIsPassedOn(limits: String) throws {
        let raw = try RawBackend(
            reply: "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 17\r\nContent-Length: 4\r\n\r\nbusy", closeAfter: true)
        let list = "      - { name: raw, address: 127.0.0.1:\(raw.port) }"
        let proxy = try ProxyFixture(
            """
            workers: 1
            access_log: { path: off }
            listeners:
              - name: web
                listen: 127.0.0.1:0
                routes:
                  - cluster: app
            clusters:
              - name: app
            \(limits)
                backends:
            \(list)
            """)
        let r = try TestClient(port: proxy.port).request("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(r.status == 503)
        #expect(r.header("Retry-After") == "17")
        #expect(r.text == "busy")
    }
}

/// A refusal for lack of capacity (503) or past a rate limit (429) keeps a kept-alive
/// connection when the request was read whole, after the answers queued before it.
@Suite struct RefusalKeepAliveTests {
    @Test func aShedGetKeepsItsConnectionAndPipelinedAnswersStayInOrder() throws {
        let b = try backend("a", BackendBehavior(delay: 300_000_000))
        let proxy = try ProxyFixture.simple([b], cluster: "    limits: { max_requests_per_backend: 1, max_queue: 0, queue_target: 0ms }")
        let busy = try TestClient(port: proxy.port)
        try busy.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        for _ in 0..<300 where b.activeRequests == 0 { usleep(10_000) }
        let c = try TestClient(port: proxy.port)
        // Two pipelined requests while the only slot is taken: both refused, in order, and
        // the connection serves a third request once the slot is free.
        try c.send("GET /one HTTP/1.1\r\nHost: a\r\n\r\nGET /two HTTP/1.1\r\nHost: a\r\n\r\n")
        let r1 = try c.readResponse()
        let r2 = try c.readResponse()
        #expect(r1.status == 503 && r2.status == 503)
        #expect(r1.header("Connection") == nil && r1.header("Retry-After") != nil)
        #expect(try busy.readResponse().status == 200)
        let r3 = try c.request("GET /three HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(r3.status == 200, "\(r3.status) \(r3.text)")
        #expect(!c.closedByPeer)
    }

    @Test func aRefusedUploadWhoseBodyWasNotReadClosesTheConnection() throws {
        let b = try backend("a", BackendBehavior(delay: 300_000_000))
        let proxy = try ProxyFixture.simple([b], cluster: "    limits: { max_requests_per_backend: 1, max_queue: 0, queue_target: 0ms }")
        let busy = try TestClient(port: proxy.port)
        try busy.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        for _ in 0..<300 where b.activeRequests == 0 { usleep(10_000) }
        let c = try TestClient(port: proxy.port)
        try c.send("POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n")
        let r = try c.readResponse()
        #expect(r.status == 503)
        #expect(r.header("Connection") == "close")
        _ = try busy.readResponse()
    }
}
