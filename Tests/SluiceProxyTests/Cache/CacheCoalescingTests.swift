import Foundation
import Testing

/// Concurrent misses for one key share one backend request (DESIGN §3 "Cache": coalesce),
/// through the real binary with two workers, so waiters sit on both.
@Suite struct CacheCoalescingTests {
    /// Sends `count` GETs of `path` at once, each on its own connection opened first, then
    /// reads every answer on its own thread; the responses in order.
    static func concurrent(_ rig: CacheRig, _ path: String, count: Int) -> [TestResponse?] {
        let clients = (0..<count).compactMap { _ in try? TestClient(port: rig.port) }
        for c in clients { try? c.send("GET \(path) HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n") }
        // NSLock, not Synchronization.Mutex: ThreadSanitizer models pthread locks only.
        final class Results: @unchecked Sendable {
            let lock = NSLock()
            var items: [TestResponse?]
            init(_ n: Int) { items = Array(repeating: nil, count: n) }
        }
        let results = Results(count)
        let done = DispatchGroup()
        for (i, c) in clients.enumerated() {
            done.enter()
            Thread {
                let r = try? c.readResponse()
                results.lock.lock()
                results.items[i] = r
                results.lock.unlock()
                done.leave()
            }.start()
        }
        done.wait()
        results.lock.lock()
        defer { results.lock.unlock() }
        return results.items
    }

    @Test func aHundredConcurrentMissesMakeOneBackendRequest() throws {
        // 64 KiB in 4 pieces 100 ms apart: the waiters arrive while it streams.
        let body = (0..<65536).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
        let rig = try CacheRig { _ in
            var r = OriginReply(headers: [("Cache-Control", "max-age=60")])
            r.pieces = stride(from: 0, to: body.count, by: 16384).map { Array(body[$0..<$0 + 16384]) }
            r.delayMillis = 300
            r.pauseMillis = 100
            return r
        }
        let answers = Self.concurrent(rig, "/hot", count: 100)
        #expect(rig.origin.count("/hot") == 1)
        #expect(answers.allSatisfy { $0?.status == 200 && $0?.complete == true && $0?.body == body })
        let statuses = answers.compactMap { $0?.header("cache-status") }
        #expect(statuses.filter { $0 == "sluice; fwd=miss; stored" }.count == 1)
        #expect(statuses.filter { $0 == "sluice; fwd=miss; collapsed" || $0 == "sluice; hit" }.count == 99)
    }

    /// A waiter receives the shared body as it arrives, not once it is complete: with a chunked
    /// answer of 5 pieces 400 ms apart, a second client gets the head and the first bytes
    /// well before the origin sends the last piece.
    @Test func aSlowStreamingResponseIsSharedWhileItArrives() throws {
        let rig = try CacheRig { _ in
            var r = OriginReply(headers: [("Cache-Control", "max-age=60")])
            r.pieces = (0..<5).map { Array("piece \($0);".utf8) }
            r.chunked = true
            r.pauseMillis = 400
            return r
        }
        let first = try TestClient(port: rig.port)
        try first.send("GET /slow HTTP/1.1\r\nHost: test\r\n\r\n")
        usleep(200_000)
        let started = Date()
        let second = try TestClient(port: rig.port)
        try second.send("GET /slow HTTP/1.1\r\nHost: test\r\n\r\n")
        // Read the second client's head and first chunk by hand.
        var got: [UInt8] = []
        while !String(decoding: got, as: UTF8.self).contains("piece 0;") {
            guard second.fill() else { break }
            got += second.drainBuffer()
        }
        let firstBytesAfter = Date().timeIntervalSince(started)
        let text = String(decoding: got, as: UTF8.self)
        #expect(text.contains("Cache-Status: sluice; fwd=miss; collapsed"))
        #expect(text.contains("piece 0;"))
        #expect(!text.contains("piece 4;"))
        #expect(firstBytesAfter < 1.0)  // the whole answer takes 1.6 s
        let whole = try first.readResponse()
        #expect(whole.text == "piece 0;piece 1;piece 2;piece 3;piece 4;")
        #expect(rig.origin.count("/slow") == 1)
    }

    /// A key whose answer was uncacheable is remembered: the next requests go straight to the
    /// origin at once instead of queueing behind each other's fetch.
    @Test func hitForMissSendsTheNextRequestsStraightToTheOrigin() throws {
        let rig = try CacheRig { _ in
            var r = OriginReply(headers: [("Cache-Control", "max-age=60"), ("Set-Cookie", "a=b")], body: "mine")
            r.delayMillis = 300
            return r
        }
        _ = try rig.get("/private-ish")
        let started = Date()
        let answers = Self.concurrent(rig, "/private-ish", count: 10)
        let took = Date().timeIntervalSince(started)
        #expect(rig.origin.count("/private-ish") == 11)
        #expect(answers.allSatisfy { $0?.header("cache-status") == "sluice; fwd=uri-miss; detail=hit-for-miss" })
        #expect(took < 2.0)  // one after another would take 3 s
    }

    /// Requests that coalesced on a fill whose answer turned out uncacheable each ask the
    /// origin themselves: none of them receives another client's Set-Cookie.
    @Test func waitersOfAnUncacheableFillAskTheOriginThemselves() throws {
        let n = Counter()
        let rig = try CacheRig { _ in
            let i = n.next()
            var r = OriginReply(headers: [("Set-Cookie", "session=\(i)")], body: "for \(i)")
            r.delayMillis = i == 1 ? 500 : 0
            return r
        }
        let answers = Self.concurrent(rig, "/login", count: 8)
        let cookies = answers.compactMap { $0?.header("set-cookie") }
        #expect(cookies.count == 8)
        #expect(Set(cookies).count == 8)
        for a in answers { #expect(a.map { "session=" + $0.text.dropFirst(4) == $0.header("set-cookie") } == true) }
    }

    /// The fill's backend dies mid-body: clients that received part of it see it cut (never a
    /// clean-looking short answer); those that had received nothing yet fetch it themselves;
    /// the partial body is never stored.
    @Test func aFillCutMidBodyCutsItsWaitersAndStoresNothing() throws {
        let n = Counter()
        let rig = try CacheRig { _ in
            var r = OriginReply(headers: [("Cache-Control", "max-age=60")])
            r.pieces = [Array(repeating: UInt8(ascii: "a"), count: 1000), Array(repeating: UInt8(ascii: "b"), count: 1000)]
            if n.next() == 1 {
                r.cutAfter = 1
                r.delayMillis = 300
            }
            return r
        }
        let answers = Self.concurrent(rig, "/cut", count: 5)
        #expect(answers.contains { $0?.complete == false })
        for a in answers {
            if let a { #expect(a.complete ? a.body.count == 2000 : a.body.count == 1000) }
        }
        let later = try rig.get("/cut")
        #expect(later.complete && later.body.count == 2000)
        #expect(rig.origin.count("/cut") >= 2)
    }
}
