import Foundation
import SluiceBackend
import Testing

/// The built-in backend's cacheable answers (`BackendBehavior.maxAge`, used by the bench's
/// hot-page case): freshness and validators on a 200, a 304 to a matching conditional
/// request, and the counters the bench reads.
@Suite struct CacheableBackendTests {
    @Test func answersCarryMaxAgeAndValidatorsAndMatchingConditionalsGet304() throws {
        let b = try backend("c", BackendBehavior(bodySize: 32, maxAge: 5))
        defer { b.stop() }
        let first = try get(b.port, "/products/hot-1")
        #expect(first.status == 200)
        #expect(first.body.count == 32)
        #expect(first.header("Cache-Control") == "max-age=5")
        #expect(first.header("Last-Modified") == "Mon, 01 Dec 2025 00:00:00 GMT")
        let tag = try #require(first.header("ETag"))
        #expect(tag.hasPrefix("\"v1-") && tag.hasSuffix("\""))
        // Each URL has its own ETag; the same URL always the same one.
        let other = try get(b.port, "/products/hot-2")
        #expect(other.header("ETag") != tag)
        #expect(try get(b.port, "/products/hot-1").header("ETag") == tag)

        let revalidated = try get(b.port, "/products/hot-1", headers: "If-None-Match: \"x\", \(tag)\r\n")
        #expect(revalidated.status == 304)
        #expect(revalidated.body.isEmpty)
        #expect(revalidated.header("Cache-Control") == "max-age=5")
        #expect(revalidated.header("ETag") == tag)
        // Another URL's ETag does not match; If-Modified-Since alone does (never modified).
        #expect(try get(b.port, "/products/hot-2", headers: "If-None-Match: \(tag)\r\n").status == 200)
        #expect(try get(b.port, "/products/hot-2", headers: "If-Modified-Since: \(first.header("Last-Modified")!)\r\n").status == 304)

        #expect(b.ordinaryRequests == 6)
        #expect(b.notModifiedAnswers == 2)
        let count = try get(b.port, "/__count")
        #expect(String(decoding: count.body, as: UTF8.self) == "requests 6\nnot_modified 2\n")
    }

    @Test func withoutMaxAgeAnswersAreAsBeforeAndConditionalsAreIgnored() throws {
        let b = try backend("p")
        defer { b.stop() }
        let r = try get(b.port, "/x", headers: "If-Modified-Since: Mon, 01 Dec 2025 00:00:00 GMT\r\n")
        #expect(r.status == 200)
        #expect(r.header("Cache-Control") == nil && r.header("ETag") == nil)
        #expect(b.ordinaryRequests == 1 && b.notModifiedAnswers == 0)
    }
}
