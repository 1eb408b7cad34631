import Foundation
import Testing

/// Answers made from stored responses: ranges, purge, the access log's `cache` field.
@Suite struct CacheAnswerTests {
    static let digits = String((0..<100).map { Character(String($0 % 10)) })

    @Test func rangesAreServedFromTheStoredBody() throws {
        let rig = try CacheRig { _ in
            OriginReply(headers: [("Cache-Control", "max-age=60"), ("ETag", "\"d\"")], body: Self.digits)
        }
        _ = try rig.get("/digits")
        let part = try rig.get("/digits", "Range: bytes=10-19\r\n")
        #expect(part.status == 206)
        #expect(part.text == "0123456789")
        #expect(part.header("content-range") == "bytes 10-19/100")
        #expect(part.header("content-length") == "10")
        let tail = try rig.get("/digits", "Range: bytes=-5\r\n")
        #expect(tail.status == 206 && tail.text == "56789" && tail.header("content-range") == "bytes 95-99/100")
        let none = try rig.get("/digits", "Range: bytes=200-300\r\n")
        #expect(none.status == 416)
        #expect(none.header("content-range") == "bytes */100")
        // An If-Range that no longer matches gets the whole body.
        let whole = try rig.get("/digits", "Range: bytes=0-4\r\nIf-Range: \"other\"\r\n")
        #expect(whole.status == 200 && whole.body.count == 100)
        #expect(rig.origin.count("/digits") == 1)
    }

    /// A Range request that misses goes to the origin as it is; the 206 it gets is never
    /// stored as if it were the whole body.
    @Test func aPartialResponseIsNeverStoredAsTheWholeBody() throws {
        let rig = try CacheRig { req in
            if let r = req.header("range"), r == "bytes=0-4" {
                var reply = OriginReply(
                    status: 206, headers: [("Cache-Control", "max-age=60"), ("Content-Range", "bytes 0-4/100")], body: "01234")
                reply.delayMillis = 0
                return reply
            }
            return OriginReply(headers: [("Cache-Control", "max-age=60")], body: Self.digits)
        }
        let part = try rig.get("/r", "Range: bytes=0-4\r\n")
        #expect(part.status == 206 && part.text == "01234")
        let full = try rig.get("/r")
        #expect(full.status == 200 && full.body.count == 100)
        #expect(full.header("cache-status") == "sluice; fwd=miss; stored")
    }

    @Test func purgeDropsMatchingEntries() throws {
        let n = Counter()
        let rig = try CacheRig { req in
            OriginReply(headers: [("Cache-Control", "max-age=600")], body: "\(req.target) \(n.next())")
        }
        for p in ["/products/1", "/products/2", "/about"] { _ = try rig.get(p) }
        let c = try TestClient(port: rig.admin)
        let body = #"{"host": "test", "path_prefix": "/products/"}"#
        let r = try c.request(
            "POST /cache/purge HTTP/1.1\r\nHost: a\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)")
        #expect(r.status == 200)
        #expect(r.text.contains("\"purged\": 2"))
        #expect(try rig.get("/products/1").header("cache-status") == "sluice; fwd=miss; stored")
        #expect(try rig.get("/about").header("cache-status") == "sluice; hit")
        // Bad bodies are refused, and so is a purge that names no host: an empty body must not
        // empty the cache.
        for body in ["[1,2]", "", "{}", #"{"host": ""}"#, #"{"path_prefix": "/"}"#] {
            let bad = try TestClient(port: rig.admin).request(
                "POST /cache/purge HTTP/1.1\r\nHost: a\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)")
            #expect(bad.status == 400, "\(body)")
        }
        #expect(try rig.get("/about").header("cache-status") == "sluice; hit")
    }

    /// A successful POST, PUT or DELETE to a cached URL drops its stored responses (RFC 9111
    /// §4.4); a failed one does not.
    @Test func aSuccessfulUnsafeRequestInvalidatesItsURI() throws {
        let n = Counter()
        let rig = try CacheRig { req in
            if req.method == "POST" { return OriginReply(status: req.target == "/item?fail" ? 500 : 204) }
            return OriginReply(headers: [("Cache-Control", "max-age=600")], body: "v\(n.next())")
        }
        _ = try rig.get("/item")
        #expect(try rig.get("/item").text == "v1")
        _ = try rig.request("POST", "/item?fail", "Content-Length: 0\r\n")
        _ = try rig.request("POST", "/other", "Content-Length: 0\r\n")
        #expect(try rig.get("/item").text == "v1")
        #expect(try rig.request("POST", "/item", "Content-Length: 0\r\n").status == 204)
        let after = try rig.get("/item")
        #expect(after.text == "v2")
        #expect(after.header("cache-status") == "sluice; fwd=miss; stored")
    }

    /// `/status` counts what the cache did per cluster and its memory; the dashboard shows the
    /// hit ratio from them.
    @Test func statusAndDashboardShowTheCache() throws {
        let rig = try CacheRig { _ in OriginReply(headers: [("Cache-Control", "max-age=60")], body: "x") }
        _ = try rig.get("/s")
        _ = try rig.get("/s")
        let status = try SluiceProxyTests.get(rig.admin, "/status")
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(status.body)) as? [String: Any])
        let cluster = try #require((doc["clusters"] as? [[String: Any]])?.first)
        let counts = try #require(cluster["cache"] as? [String: Int])
        #expect(counts["hit"] == 1 && counts["miss"] == 1 && counts["bypass"] == 0)
        let memory = try #require(doc["cache"] as? [String: Int])
        #expect(memory["objects"] == 1 && (memory["bytes"] ?? 0) > 0)
        #expect(try SluiceProxyTests.get(rig.admin, "/").text.contains("cache hit ratio"))
    }

    /// Sluice's own error answers on a cached route carry Cache-Status too.
    @Test func anErrorAnswerOfACachedRouteSaysSo() throws {
        let rig = try CacheRig { _ in OriginReply(body: "x") }
        rig.origin.stop()
        let r = try rig.get("/down")
        #expect(r.status == 502)
        #expect(r.header("cache-status") == "sluice; fwd=miss; detail=error")
    }

    @Test func theAccessLogNamesWhatTheCacheDid() throws {
        let rig = try CacheRig(accessLog: "stderr") { _ in OriginReply(headers: [("Cache-Control", "max-age=60")], body: "x") }
        _ = try rig.get("/log")
        _ = try rig.get("/log")
        var lines: [String] = []
        for _ in 0..<100 {
            lines = rig.sluice.log.split(separator: "\n").map(String.init).filter { $0.contains("\"path\":\"/log\"") }
            if lines.count >= 2 { break }
            usleep(20_000)
        }
        #expect(lines.count == 2, "\(lines)")
        // Two workers flush their lines at the end of their own batches: either may come first.
        #expect(lines.filter { $0.contains("\"cache\":\"miss\"") }.count == 1, "\(lines)")
        #expect(lines.filter { $0.contains("\"cache\":\"hit\"") }.count == 1, "\(lines)")
    }
}
