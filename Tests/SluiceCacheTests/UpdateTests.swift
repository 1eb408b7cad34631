import SluiceCache
import SluiceHTTP
import Testing

/// RFC 9111 §4.3.4 (which stored response a 304 freshens) and §4.4 (invalidation).
@Suite struct UpdateTests {
    func updates(_ lines: String..., etag: String? = "\"v1\"", lastModified: Int64? = 784_111_777) -> Bool {
        let h = TestHead.response(304, lines)
        let r = h.responseFacts
        return withBytes(etag) { CacheRules.notModifiedUpdates(r, h.p, storedETag: $0, storedLastModified: lastModified) }
    }

    @Test func section4_3_4_aStrongETagMustEqualTheStoredOne() {
        #expect(updates("ETag: \"v1\""))
        #expect(!updates("ETag: \"v2\""))
        #expect(!updates("ETag: \"v1\"", etag: "W/\"v1\""))
        #expect(!updates("ETag: \"v1\"", etag: nil))
    }

    @Test func section4_3_4_aWeakETagMatchesWeakly() {
        #expect(updates("ETag: W/\"v1\""))
        #expect(updates("ETag: W/\"v1\"", etag: "W/\"v1\""))
        #expect(!updates("ETag: W/\"v2\""))
    }

    @Test func section4_3_4_lastModifiedMustEqualTheStoredOne() {
        #expect(updates("Last-Modified: Sun, 06 Nov 1994 08:49:37 GMT"))
        #expect(!updates("Last-Modified: Mon, 07 Nov 1994 08:49:37 GMT"))
        #expect(!updates("Last-Modified: Sun, 06 Nov 1994 08:49:37 GMT", lastModified: nil))
    }

    @Test func section4_3_4_a304WithoutValidatorsRefersToTheRevalidatedResponse() {
        #expect(updates("Cache-Control: max-age=60"))
        #expect(updates(etag: nil, lastModified: nil))
    }

    @Test func section4_4_unsafeMethodsWithNonErrorStatusesInvalidate() {
        for m in [Method.post, .put, .delete, .patch, .other] {
            #expect(CacheRules.invalidates(method: m, status: 200), "\(m)")
            #expect(CacheRules.invalidates(method: m, status: 303), "\(m)")
            #expect(!CacheRules.invalidates(method: m, status: 404), "\(m)")
            #expect(!CacheRules.invalidates(method: m, status: 500), "\(m)")
        }
        for m in [Method.get, .head, .options, .trace] {
            #expect(!CacheRules.invalidates(method: m, status: 200), "\(m)")
        }
    }
}
