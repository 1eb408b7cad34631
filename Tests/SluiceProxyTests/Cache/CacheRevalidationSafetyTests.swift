import Foundation
import Testing

/// Cases an operator's trial found: a cache must never hand one client's cookie to another
/// after a revalidation, must not let a failing backend multiply its waiters' waits, and
/// must not let one 5xx replace a good page.
@Suite struct CacheRevalidationSafetyTests {
    /// A 304 that renews the session cookie of the client that revalidated: that client gets
    /// its cookie, nobody else ever does.
    @Test func aSetCookieIn304ReachesOnlyTheClientThatRevalidated() throws {
        let rig = try CacheRig { req in
            if req.header("if-none-match") == "\"c1\"" {
                let who = req.header("cookie") ?? "nobody"
                return OriginReply(
                    status: 304, headers: [("Cache-Control", "max-age=60"), ("ETag", "\"c1\""), ("Set-Cookie", "session=\(who)")])
            }
            return OriginReply(headers: [("Cache-Control", "max-age=1"), ("ETag", "\"c1\"")], body: "page")
        }
        _ = try rig.get("/p")
        usleep(2_100_000)
        let alice = try rig.get("/p", "Cookie: u=alice\r\n")
        #expect(alice.header("cache-status") == "sluice; fwd=stale; fwd-status=304")
        #expect(alice.header("set-cookie") == "session=u=alice")
        #expect(alice.text == "page")
        let bob = try rig.get("/p", "Cookie: u=bob\r\n")
        #expect(bob.header("cache-status") == "sluice; hit")
        #expect(bob.header("set-cookie") == nil)
        #expect(bob.text == "page")
    }

    /// A 304 that makes the page private: the stored copy goes; the next client asks anew.
    @Test func a304ThatMakesThePagePrivateDropsTheStoredCopy() throws {
        let n = Counter()
        let rig = try CacheRig { req in
            let i = n.next()
            if req.header("if-none-match") != nil {
                return OriginReply(status: 304, headers: [("Cache-Control", "private, max-age=60"), ("ETag", "\"p\"")])
            }
            return OriginReply(headers: [("Cache-Control", "max-age=1"), ("ETag", "\"p\"")], body: "v\(i)")
        }
        _ = try rig.get("/private-now")
        usleep(2_100_000)
        #expect(try rig.get("/private-now").status == 200)
        let next = try rig.get("/private-now")
        #expect(next.header("cache-status")?.hasPrefix("sluice; hit") == false)
        #expect(rig.origin.count("/private-now") == 3)
    }

    /// A 5xx that states freshness does not replace a stored 200 when it answers its refresh.
    @Test func a5xxNeverReplacesAStoredPage() throws {
        let n = Counter()
        let rig = try CacheRig(cache: "{}") { _ in
            n.next() == 1
                ? OriginReply(headers: [("Cache-Control", "max-age=1")], body: "good")
                : OriginReply(status: 500, headers: [("Cache-Control", "max-age=60")], body: "broken")
        }
        _ = try rig.get("/x")
        usleep(2_100_000)
        #expect(try rig.get("/x").status == 500)  // no stale window: the error goes through once
        let again = try rig.get("/x")
        #expect(again.header("cache-status")?.hasPrefix("sluice; hit") == false)
        #expect(rig.origin.count("/x") == 3)
    }

    /// A backend that never answers: the fill times out after `response`, and its waiters get
    /// the error then too, instead of each starting a second full wait on the same backend.
    @Test func waitersOfAHungFillFailWithItInsteadOfWaitingAgain() throws {
        let rig = try CacheRig(cache: "{}", top: "timeouts: { response: 1s }") { _ in
            var r = OriginReply(headers: [("Cache-Control", "max-age=60")], body: "late")
            r.delayMillis = 4000
            return r
        }
        let started = Date()
        let answers = CacheCoalescingTests.concurrent(rig, "/hung", count: 10)
        let took = Date().timeIntervalSince(started)
        #expect(answers.allSatisfy { ($0?.status ?? 0) >= 500 })
        #expect(took < 2.5)  // one `response` (1 s) and a margin; twice would be over 2 s each
        #expect(rig.origin.count("/hung") == 1)
        let statuses = answers.compactMap { $0?.header("cache-status") }
        #expect(statuses.count == 10 && statuses.allSatisfy { $0 == "sluice; fwd=miss; detail=error" })
    }

    /// A background refresh carries no client's Cookie or Authorization.
    @Test func aBackgroundRefreshCarriesNoCredentials() throws {
        let n = Counter()
        let rig = try CacheRig(cache: "{ stale_while_revalidate: 30s }") { _ in
            OriginReply(headers: [("Cache-Control", "max-age=1")], body: "v\(n.next())")
        }
        _ = try rig.get("/r")
        usleep(2_100_000)
        _ = try rig.get("/r", "Cookie: u=alice\r\nAuthorization: Bearer alice\r\n")
        usleep(400_000)
        let requests = rig.origin.requests
        #expect(requests.count == 2)
        #expect(requests.last?.header("cookie") == nil)
        #expect(requests.last?.header("authorization") == nil)
    }
}
