import Foundation
import Synchronization
import Testing

/// Revalidation and the stale modes, through the real binary: a response fresh for 1 s,
/// then stale (DESIGN §3 "Cache", RFC 9111 §4.3, RFC 5861).
@Suite struct CacheStaleTests {
    /// A stale entry is revalidated with its validators; a 304 refreshes the stored head and
    /// the client gets the whole stored body.
    @Test func aStaleEntryIsRevalidatedAnd304UpdatesTheStoredHead() throws {
        let n = Counter()
        let rig = try CacheRig { req in
            let i = n.next()
            if req.header("if-none-match") == "\"v1\"" {
                return OriginReply(status: 304, headers: [("Cache-Control", "max-age=60"), ("ETag", "\"v1\""), ("X-Checked", "\(i)")])
            }
            return OriginReply(headers: [("Cache-Control", "max-age=1"), ("ETag", "\"v1\""), ("X-Checked", "\(i)")], body: "the page")
        }
        _ = try rig.get("/p")
        usleep(2_100_000)
        let r = try rig.get("/p")
        #expect(r.status == 200)
        #expect(r.text == "the page")
        #expect(r.header("cache-status") == "sluice; fwd=stale; fwd-status=304")
        #expect(r.header("x-checked") == "2")
        let requests = rig.origin.requests
        #expect(requests.count == 2)
        #expect(requests.last?.header("if-none-match") == "\"v1\"")
        // The 304's max-age=60 now holds: a hit, with the updated field.
        let again = try rig.get("/p")
        #expect(again.header("cache-status") == "sluice; hit")
        #expect(again.header("x-checked") == "2")
        #expect(rig.origin.count("/p") == 2)
        #expect(try rig.metric("sluice_cache_requests_total{cluster=\"app\",result=\"revalidated\"}") == 1)
    }

    /// Within stale-while-revalidate the stale answer goes out at once and one background
    /// refresh brings the new one.
    @Test func staleWhileRevalidateAnswersAtOnceAndRefreshesInTheBackground() throws {
        let n = Counter()
        let rig = try CacheRig(cache: "{ stale_while_revalidate: 30s }") { _ in
            let i = n.next()
            var r = OriginReply(headers: [("Cache-Control", "max-age=1")], body: "version \(i)")
            if i > 1 { r.delayMillis = 500 }  // the refresh is slow: nobody waits for it
            return r
        }
        #expect(try rig.get("/s").text == "version 1")
        usleep(2_100_000)
        let started = Date()
        let answers = try (0..<5).map { _ in try rig.get("/s") }
        #expect(Date().timeIntervalSince(started) < 0.5)
        #expect(answers.allSatisfy { $0.text == "version 1" })
        #expect(answers.allSatisfy { $0.header("cache-status") == "sluice; hit; detail=stale-while-revalidate" })
        usleep(900_000)
        #expect(rig.origin.count("/s") == 2)  // one refresh for all five
        let fresh = try rig.get("/s")
        #expect(fresh.text == "version 2")
        #expect(fresh.header("cache-status") == "sluice; hit")
    }

    /// A background refresh that fails is not tried again by every hit, nor never again: one
    /// per entry per second while hits go on.
    @Test func aFailedBackgroundRefreshWaitsBeforeTheNext() throws {
        let n = Counter()
        let rig = try CacheRig(cache: "{ stale_while_revalidate: 30s }") { _ in
            n.next() == 1 ? OriginReply(headers: [("Cache-Control", "max-age=1")], body: "good") : OriginReply(status: 500)
        }
        _ = try rig.get("/flaky")
        usleep(2_100_000)
        for _ in 0..<20 {
            #expect(try rig.get("/flaky").text == "good")
            usleep(10_000)
        }
        usleep(100_000)
        #expect(rig.origin.count("/flaky") == 2)  // the first fetch and one refresh
        // A second later the next hit tries again.
        usleep(1_100_000)
        #expect(try rig.get("/flaky").text == "good")
        usleep(200_000)
        #expect(rig.origin.count("/flaky") == 3)
    }

    /// With the origin gone, a stale entry within stale_if_error answers instead of a 502.
    @Test func staleIfErrorAnswersWhenTheBackendIsGone() throws {
        let rig = try CacheRig(cache: "{ stale_if_error: 60s }") { _ in
            OriginReply(headers: [("Cache-Control", "max-age=1")], body: "still here")
        }
        _ = try rig.get("/gone")
        rig.origin.stop()
        usleep(1_100_000)
        let r = try rig.get("/gone")
        #expect(r.status == 200)
        #expect(r.text == "still here")
        #expect(r.header("cache-status") == "sluice; hit; detail=stale-if-error")
        // An uncached path gets the error.
        #expect(try rig.get("/nocache/x").status == 502)
    }

    /// A 5xx from the origin is replaced by the stale entry within stale_if_error.
    @Test func staleIfErrorReplacesA5xx() throws {
        let n = Counter()
        let rig = try CacheRig(cache: "{ stale_if_error: 60s }") { _ in
            n.next() == 1
                ? OriginReply(headers: [("Cache-Control", "max-age=1")], body: "good")
                : OriginReply(status: 500, body: "broken")
        }
        _ = try rig.get("/five")
        usleep(1_100_000)
        let r = try rig.get("/five")
        #expect(r.status == 200 && r.text == "good")
        #expect(r.header("cache-status") == "sluice; hit; detail=stale-if-error")
    }

    /// While the backend fails, a stale entry is tried against it once a second, not by every
    /// request: the others get the stale copy without a backend request.
    @Test func aFailingBackendIsAskedOncePerSecondPerEntry() throws {
        let n = Counter()
        let rig = try CacheRig(cache: "{ stale_if_error: 60s }") { _ in
            n.next() == 1 ? OriginReply(headers: [("Cache-Control", "max-age=1")], body: "good") : OriginReply(status: 503)
        }
        _ = try rig.get("/down")
        usleep(1_100_000)
        for _ in 0..<20 {
            let r = try rig.get("/down")
            #expect(r.status == 200 && r.header("cache-status") == "sluice; hit; detail=stale-if-error")
        }
        #expect(rig.origin.count("/down") == 2)
    }

    /// must-revalidate forbids stale answers: the error goes through.
    @Test func mustRevalidateIsNeverServedStale() throws {
        let rig = try CacheRig(cache: "{ stale_if_error: 60s }") { _ in
            OriginReply(headers: [("Cache-Control", "max-age=1, must-revalidate")], body: "strict")
        }
        _ = try rig.get("/strict")
        rig.origin.stop()
        usleep(1_100_000)
        #expect(try rig.get("/strict").status == 502)
    }

    /// When admission sheds (the one slot is busy and the queue is full), a stale entry within
    /// stale_if_overloaded answers instead of the 503.
    @Test func staleIfOverloadedAnswersInsteadOfA503() throws {
        let n = Counter()
        let rig = try CacheRig(
            cache: "{ stale_if_overloaded: 60s }",
            limits: "limits: { max_requests_per_backend: 1, max_queue: 1, queue_timeout: 100ms }"
        ) { req in
            let i = n.next()
            var r = OriginReply(headers: [("Cache-Control", "max-age=1")], body: "\(req.target) v\(i)")
            if req.target == "/busy" { r.delayMillis = 1500 }
            return r
        }
        #expect(try rig.get("/page").text == "/page v1")
        usleep(1_100_000)
        // Take the only slot for 1.5 s.
        let busy = try TestClient(port: rig.port)
        try busy.send("GET /busy HTTP/1.1\r\nHost: test\r\n\r\n")
        usleep(200_000)
        let asked = Date()
        let r = try rig.get("/page")
        #expect(Date().timeIntervalSince(asked) < 0.5)  // at once, not after a wait in the queue
        #expect(r.status == 200)
        #expect(r.text == "/page v1")
        #expect(r.header("cache-status") == "sluice; hit; detail=stale-if-overloaded")
        #expect(try busy.readResponse().status == 200)
    }
}
