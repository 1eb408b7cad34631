import SluiceCache
import SluiceHTTP
import Testing

/// Reading heads: field lookup, Vary (§4.1), and the facts the rules take.
@Suite struct HeadFactsTests {
    @Test func headFieldsFindsTheFirstFieldIgnoringCase() {
        let h = TestHead.response(200, ["X-A: 1", "ETAG: \"v1\"", "etag: \"v2\""])
        #expect(h.text(HeadFields.find(h.p, h.fields, "etag")) == "\"v1\"")
        #expect(HeadFields.contains(h.p, h.fields, "x-a"))
        #expect(!HeadFields.contains(h.p, h.fields, "x-b"))
        #expect(HeadFields.count(h.p, h.fields, "etag") == 2)
        #expect(HeadFields.isNamed(h.p, h.fields[1], Array("etag".utf8)))
        #expect(!HeadFields.isNamed(h.p, h.fields[1], Array("eta".utf8)))
    }

    @Test func section4_1_varyNamesAreLowercasedDeduplicatedAndMerged() {
        let h = TestHead.response(200, ["Vary: Accept-Encoding, ACCEPT-language", "Vary: accept-encoding,  Cookie ,"])
        let v = VaryNames.parse(h.p, h.fields)
        #expect(!v.isStar)
        #expect(v.names == [Array("accept-encoding".utf8), Array("accept-language".utf8), Array("cookie".utf8)])
    }

    @Test func section4_1_varyStarAnywhereIsStar() {
        let h = TestHead.response(200, ["Vary: Accept", "Vary: *"])
        #expect(VaryNames.parse(h.p, h.fields).isStar)
        #expect(VaryNames.parse(h.p, TestHead.response(200).fields) == VaryNames())
    }

    @Test func responseFactsReadEveryCachingField() {
        let h = TestHead.response(
            200,
            [
                "Date: Sun, 06 Nov 1994 08:49:37 GMT", "Expires: Sun, 06 Nov 1994 08:50:37 GMT", "Age: 12",
                "Last-Modified: Sat, 05 Nov 1994 08:49:37 GMT", "ETag: W/\"abc\"", "Set-Cookie: a=b",
                "Cache-Control: max-age=5", "Vary: Accept", "Content-Range: bytes 0-1/2",
            ])
        let r = h.responseFacts
        #expect(r.status == 200 && r.cc.maxAge == 5 && r.hasSetCookie && r.hasContentRange)
        #expect(r.date == 784_111_777 && r.expires == 784_111_837 && r.hasExpires && r.age == 12)
        #expect(r.lastModified == 784_025_377)
        #expect(h.text(r.etag) == "W/\"abc\"")
        #expect(r.vary.names == [Array("accept".utf8)])
        #expect(r.hasExplicitFreshness)
    }

    @Test func responseFactsOfABareHeadAreEmpty() {
        let r = response(200)
        #expect(r.date == nil && r.expires == nil && !r.hasExpires && r.age == nil && r.lastModified == nil)
        #expect(r.etag == nil && !r.hasSetCookie && !r.hasContentRange && !r.hasExplicitFreshness)
    }

    @Test func section5_3_anInvalidExpiresIsAlreadyExpired() {
        let r = response(200, "Expires: 0")
        #expect(r.hasExpires && r.expires == 0)
        #expect(response(200, "Expires: soon").expires == 0)
    }

    @Test func section5_1_anInvalidAgeIsIgnored() {
        #expect(response(200, "Age: abc").age == nil)
        #expect(response(200, "Age: 1, 2").age == nil)
        #expect(response(200, "Age: -3").age == nil)
        #expect(response(200, "Age: 99999999999").age == 2_147_483_648)
    }

    @Test func requestFactsReadTheRequestSide() {
        let r = request("Authorization: Bearer x", "If-None-Match: \"a\"", "Range: bytes=0-1", "Cache-Control: max-age=0")
        #expect(r.hasAuthorization && r.hasConditional && r.hasRange && r.cc.maxAge == 0 && !r.pragmaNoCache)
        #expect(request("If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT").hasConditional)
        let bare = request()
        #expect(!bare.hasAuthorization && !bare.hasConditional && !bare.hasRange && bare.cc == CacheControl())
    }

    @Test func section5_4_pragmaNoCacheCountsOnlyWithoutCacheControl() {
        #expect(request("Pragma: no-cache").pragmaNoCache)
        #expect(request("Pragma: foo, NO-CACHE").pragmaNoCache)
        #expect(!request("Pragma: no-cache", "Cache-Control: max-stale").pragmaNoCache)
        #expect(!request("Cache-Control: max-age=60", "Pragma: no-cache").pragmaNoCache)
        #expect(!request("Pragma: foo").pragmaNoCache)
    }
}
