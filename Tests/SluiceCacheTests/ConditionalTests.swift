import SluiceCache
import Testing

/// RFC 9110 §13.1.2 (If-None-Match), §13.1.3 (If-Modified-Since), §13.2.2 (their order),
/// evaluated against a stored response.
@Suite struct ConditionalTests {
    /// Sun, 06 Nov 1994 08:49:37 GMT.
    let lastModified: Int64 = 784_111_777

    func notModified(_ lines: String..., etag: String? = "\"v1\"", lastModified: Int64? = 784_111_777) -> Bool {
        let h = TestHead.request(lines)
        return withBytes(etag) { Conditional.notModified(request: h.p, h.fields, storedETag: $0, storedLastModified: lastModified) }
    }

    func weak(_ a: String, _ b: String) -> Bool {
        withBytes(a) { x in withBytes(b) { y in Conditional.weakMatch(x!, y!) } }
    }

    @Test func section8_8_3_2_weakComparisonIgnoresTheWPrefix() {
        #expect(weak("\"a\"", "\"a\""))
        #expect(weak("W/\"a\"", "\"a\""))
        #expect(weak("W/\"a\"", "W/\"a\""))
        #expect(!weak("\"a\"", "\"b\""))
        #expect(!weak("W/\"a\"", "\"A\""))
        #expect(!weak("\"a\"", "\"a \""))
    }

    @Test func section13_1_2_strongAndWeakTagsMatchWeakly() {
        #expect(notModified("If-None-Match: \"v1\""))
        #expect(notModified("If-None-Match: W/\"v1\""))
        #expect(notModified("If-None-Match: \"v1\"", etag: "W/\"v1\""))
        #expect(!notModified("If-None-Match: \"v2\""))
    }

    @Test func section13_1_2_aListMatchesWhenAnyMemberDoes() {
        #expect(notModified("If-None-Match: \"v0\", W/\"v1\" ,\"v2\""))
        #expect(notModified("If-None-Match: \"v0\"", "If-None-Match: \"v1\""))
        #expect(notModified("If-None-Match: \"a,b\", \"v1\""))
        #expect(!notModified("If-None-Match: \"v0\", \"v2\""))
    }

    @Test func section13_1_2_starMatchesAnyStoredResponse() {
        #expect(notModified("If-None-Match: *"))
        #expect(notModified("If-None-Match: *", etag: nil))
    }

    @Test func section13_1_2_noStoredETagOrAMalformedListDoesNotMatch() {
        #expect(!notModified("If-None-Match: \"v1\"", etag: nil))
        #expect(!notModified("If-None-Match: v1"))
        #expect(!notModified("If-None-Match: \"v1"))
        #expect(!notModified("If-None-Match: \"v0\" x, \"v1\""))
    }

    @Test func section13_1_3_ifModifiedSinceBeforeEqualAfter() {
        #expect(!notModified("If-Modified-Since: Sun, 06 Nov 1994 08:49:36 GMT"))
        #expect(notModified("If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT"))
        #expect(notModified("If-Modified-Since: Mon, 07 Nov 1994 08:49:37 GMT"))
        #expect(notModified("If-Modified-Since: Sunday, 06-Nov-94 08:49:37 GMT"))
    }

    @Test func section13_1_3_anInvalidOrRepeatedDateIsIgnored() {
        #expect(!notModified("If-Modified-Since: yesterday"))
        #expect(
            !notModified("If-Modified-Since: Mon, 07 Nov 1994 08:49:37 GMT", "If-Modified-Since: Mon, 07 Nov 1994 08:49:37 GMT"))
        #expect(!notModified("If-Modified-Since: Mon, 07 Nov 1994 08:49:37 GMT", lastModified: nil))
    }

    @Test func section13_2_2_ifNoneMatchTakesPrecedenceOverIfModifiedSince() {
        #expect(!notModified("If-None-Match: \"v2\"", "If-Modified-Since: Mon, 07 Nov 1994 08:49:37 GMT"))
        #expect(notModified("If-Modified-Since: Sat, 05 Nov 1994 08:49:37 GMT", "If-None-Match: \"v1\""))
    }

    @Test func unconditionalRequestsAreNotNotModified() {
        #expect(!notModified())
        #expect(!notModified("If-Match: \"v1\""))
    }
}
