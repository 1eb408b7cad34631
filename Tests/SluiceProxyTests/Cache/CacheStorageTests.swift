import Foundation
import Testing

/// What the cache stores and what it never stores, through the real binary (DESIGN §3
/// "Cache", RFC 9111 §3): each case asks twice and counts the origin's requests.
@Suite struct CacheStorageTests {
    @Test func aSecondRequestIsAHitWithAgeAndTheSameBody() throws {
        let n = Counter()
        let rig = try CacheRig { _ in
            OriginReply(headers: [("Cache-Control", "max-age=60"), ("Date", Self.httpDate())], body: "page \(n.next())")
        }
        let first = try rig.get("/products/1")
        #expect(first.status == 200)
        #expect(first.text == "page 1")
        #expect(first.header("cache-status") == "sluice; fwd=miss; stored")
        let second = try rig.get("/products/1")
        #expect(second.text == "page 1")
        #expect(second.header("cache-status") == "sluice; hit")
        #expect(second.header("age") != nil)
        #expect(second.header("content-length") == "6")
        #expect(rig.origin.count("/products/1") == 1)
        // Another query string is another key.
        #expect(try rig.get("/products/1?color=red").text == "page 2")
        #expect(try rig.metric("sluice_cache_requests_total{cluster=\"app\",result=\"hit\"}") == 1)
        #expect(try rig.metric("sluice_cache_objects{}") == 2)
    }

    @Test func anUncachedRouteHasNoCacheStatus() throws {
        let rig = try CacheRig { _ in OriginReply(headers: [("Cache-Control", "max-age=60")], body: "x") }
        let r = try rig.get("/nocache/a")
        #expect(r.header("cache-status") == nil)
        _ = try rig.get("/nocache/a")
        #expect(rig.origin.count("/nocache/a") == 2)
    }

    /// A response that must not be stored goes to the origin every time, and its
    /// Cache-Status says it was not stored.
    func expectNotStored(
        _ headers: [(String, String)], status: Int = 200, request: String = "", sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let n = Counter()
        let rig = try CacheRig { _ in OriginReply(status: status, headers: headers, body: "answer \(n.next())") }
        let a = try rig.get("/p", request)
        let b = try rig.get("/p", request)
        #expect(a.text == "answer 1", sourceLocation: sourceLocation)
        #expect(b.text == "answer 2", sourceLocation: sourceLocation)
        #expect(b.header("cache-status")?.hasPrefix("sluice; hit") == false, sourceLocation: sourceLocation)
        #expect(rig.origin.count("/p") == 2, sourceLocation: sourceLocation)
    }

    @Test func noStoreIsNotStored() throws { try expectNotStored([("Cache-Control", "max-age=60, no-store")]) }
    @Test func privateIsNotStored() throws { try expectNotStored([("Cache-Control", "private, max-age=60")]) }
    @Test func varyStarIsNotStored() throws { try expectNotStored([("Cache-Control", "max-age=60"), ("Vary", "*")]) }
    @Test func varyOnTooManyFieldsIsNotStored() throws {
        try expectNotStored([("Cache-Control", "max-age=60"), ("Vary", "a, b, c, d, e")])
    }
    @Test func noFreshnessIsNotStoredWithoutADefaultTTL() throws { try expectNotStored([]) }
    @Test func aServerErrorIsNotStored() throws { try expectNotStored([], status: 500) }
    @Test func aRedirectWithoutFreshnessIsNotStored() throws { try expectNotStored([("Location", "/x")], status: 302) }
    @Test func aRequestWithNoStoreIsNotStored() throws {
        try expectNotStored([("Cache-Control", "max-age=60")], request: "Cache-Control: no-store\r\n")
    }
    @Test func anAuthorizedRequestIsNotStoredWithoutPublic() throws {
        try expectNotStored([("Cache-Control", "max-age=60")], request: "Authorization: Bearer alice\r\n")
    }

    @Test func anAuthorizedRequestIsStoredWhenTheResponseSaysPublic() throws {
        let n = Counter()
        let rig = try CacheRig { _ in OriginReply(headers: [("Cache-Control", "public, max-age=60")], body: "v\(n.next())") }
        _ = try rig.get("/pub", "Authorization: Bearer alice\r\n")
        #expect(try rig.get("/pub").text == "v1")
        #expect(rig.origin.count("/pub") == 1)
    }

    @Test func aServerErrorIsStoredWhenTheResponseAllowsItExplicitly() throws {
        let n = Counter()
        let rig = try CacheRig { _ in OriginReply(status: 503, headers: [("Cache-Control", "max-age=60")], body: "e\(n.next())") }
        _ = try rig.get("/e")
        let b = try rig.get("/e")
        #expect(b.status == 503 && b.text == "e1")
        #expect(rig.origin.count("/e") == 1)
    }

    @Test func defaultTTLStoresAResponseThatStatesNoFreshness() throws {
        let n = Counter()
        let rig = try CacheRig(cache: "{ default_ttl: 30s }") { _ in OriginReply(body: "d\(n.next())") }
        _ = try rig.get("/d")
        #expect(try rig.get("/d").text == "d1")
        // …but not an error, nor a 302, on the default alone.
        #expect(rig.origin.count("/d") == 1)
    }

    /// A Set-Cookie answer never reaches a second client: each gets its own cookie.
    @Test func aSetCookieResponseNeverReachesASecondClient() throws {
        let n = Counter()
        let rig = try CacheRig { _ in
            let i = n.next()
            return OriginReply(headers: [("Cache-Control", "max-age=60"), ("Set-Cookie", "session=user\(i)")], body: "cart of user\(i)")
        }
        let a = try rig.get("/cart")
        let b = try rig.get("/cart")
        #expect(a.header("set-cookie") == "session=user1")
        #expect(b.header("set-cookie") == "session=user2")
        #expect(b.text == "cart of user2")
        #expect(rig.origin.count("/cart") == 2)
    }

    /// Two variants of one URL (Vary: Accept-Language) are stored apart.
    @Test func varyKeepsVariantsApart() throws {
        let rig = try CacheRig { req in
            let lang = req.header("accept-language") ?? "none"
            return OriginReply(headers: [("Cache-Control", "max-age=60"), ("Vary", "Accept-Language")], body: "hello in \(lang)")
        }
        #expect(try rig.get("/hello", "Accept-Language: en\r\n").text == "hello in en")
        #expect(try rig.get("/hello", "Accept-Language: fr\r\n").text == "hello in fr")
        let en = try rig.get("/hello", "Accept-Language: en\r\n")
        #expect(en.text == "hello in en")
        #expect(en.header("cache-status") == "sluice; hit")
        #expect(try rig.get("/hello", "Accept-Language: fr\r\n").text == "hello in fr")
        #expect(rig.origin.count("/hello") == 2)
    }

    /// A header the key does not include cannot change what is stored for others: the
    /// stored body is the origin's answer to the first request; a later request with an
    /// X-Forwarded-Host gets the same stored body (the origin must name such headers in Vary).
    @Test func unkeyedHeadersDoNotSelectAnotherBody() throws {
        let rig = try CacheRig { req in
            OriginReply(headers: [("Cache-Control", "max-age=60")], body: "host \(req.header("x-forwarded-host") ?? "-")")
        }
        #expect(try rig.get("/u").text == "host -")
        let poisoned = try rig.get("/u", "X-Forwarded-Host: evil.example\r\n")
        #expect(poisoned.text == "host -")
        #expect(rig.origin.count("/u") == 1)
    }

    @Test func headIsAnsweredFromAStoredGet() throws {
        let rig = try CacheRig { _ in OriginReply(headers: [("Cache-Control", "max-age=60")], body: "twelve bytes") }
        _ = try rig.get("/h")
        let h = try rig.request("HEAD", "/h")
        #expect(h.status == 200)
        #expect(h.header("content-length") == "12")
        #expect(h.header("cache-status") == "sluice; hit")
        #expect(rig.origin.requests.allSatisfy { $0.method == "GET" })
        #expect(rig.origin.count("/h") == 1)
    }

    @Test func aConditionalRequestGets304FromTheStore() throws {
        let rig = try CacheRig { _ in OriginReply(headers: [("Cache-Control", "max-age=60"), ("ETag", "\"v1\"")], body: "body") }
        _ = try rig.get("/etag")
        let r = try rig.get("/etag", "If-None-Match: \"v1\"\r\n")
        #expect(r.status == 304)
        #expect(r.header("etag") == "\"v1\"")
        #expect(try rig.get("/etag", "If-None-Match: \"v0\"\r\n").status == 200)
        #expect(rig.origin.count("/etag") == 1)
    }

    @Test func noCacheAndMaxAgeZeroRequestsGoToTheOrigin() throws {
        let n = Counter()
        let rig = try CacheRig { _ in OriginReply(headers: [("Cache-Control", "max-age=60")], body: "n\(n.next())") }
        _ = try rig.get("/r")
        #expect(try rig.get("/r", "Cache-Control: no-cache\r\n").text == "n2")
        #expect(try rig.get("/r", "Cache-Control: max-age=0\r\n").text == "n3")
        #expect(try rig.get("/r").text == "n3")  // the refetched answer replaced the stored one
        #expect(rig.origin.count("/r") == 3)
    }

    static func httpDate() -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "GMT")
        f.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        return f.string(from: Date())
    }
}
