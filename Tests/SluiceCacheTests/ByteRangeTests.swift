import SluiceCache
import Testing

/// RFC 9110 §14.1-§14.4 (Range) and §13.1.5 (If-Range) against a complete stored body.
@Suite struct ByteRangeTests {
    func range(
        _ lines: String..., length: Int = 1000, etag: String? = "\"v1\"", lastModified: Int64? = 784_111_777
    ) -> ByteRange {
        let h = TestHead.request(lines)
        return withBytes(etag) { ByteRange.parse(request: h.p, h.fields, length: length, storedETag: $0, storedLastModified: lastModified) }
    }

    @Test func section14_1_2_firstAndLast() {
        #expect(range("Range: bytes=0-99") == .single(first: 0, last: 99))
        #expect(range("Range: bytes=500-500") == .single(first: 500, last: 500))
        #expect(range("Range: bytes=0-0", length: 1) == .single(first: 0, last: 0))
    }

    @Test func section14_1_2_openEndedRangeRunsToTheEnd() {
        #expect(range("Range: bytes=100-") == .single(first: 100, last: 999))
        #expect(range("Range: bytes=999-") == .single(first: 999, last: 999))
    }

    @Test func section14_1_2_lastIsClampedToTheLength() {
        #expect(range("Range: bytes=900-5000") == .single(first: 900, last: 999))
        #expect(range("Range: bytes=0-99999999999999999999999") == .single(first: 0, last: 999))
    }

    @Test func section14_1_2_suffixRanges() {
        #expect(range("Range: bytes=-500") == .single(first: 500, last: 999))
        #expect(range("Range: bytes=-1000") == .single(first: 0, last: 999))
        #expect(range("Range: bytes=-5000") == .single(first: 0, last: 999))
        #expect(range("Range: bytes=-0") == .unsatisfiable)
    }

    @Test func section14_1_1_rangesPastTheEndAreUnsatisfiable() {
        #expect(range("Range: bytes=1000-") == .unsatisfiable)
        #expect(range("Range: bytes=1000-2000") == .unsatisfiable)
        #expect(range("Range: bytes=99999999999999999999-") == .unsatisfiable)
        #expect(range("Range: bytes=1000-1001, 2000-") == .unsatisfiable)
        #expect(range("Range: bytes=0-10", length: 0) == .unsatisfiable)
        #expect(range("Range: bytes=-10", length: 0) == .none)
    }

    @Test func section14_2_moreThanOneRangeIsServedWhole() {
        #expect(range("Range: bytes=0-9, 20-29") == .multiple)
        #expect(range("Range: bytes=0-9,5000-") == .multiple)
        #expect(range("Range: bytes=-5 ,\t0-1") == .multiple)
    }

    @Test func section14_1_unitNameIsCaseInsensitiveAndListsAreLenient() {
        #expect(range("Range: BYTES=0-9") == .single(first: 0, last: 9))
        #expect(range("Range: Bytes=0-9, ") == .single(first: 0, last: 9))
        #expect(range("Range: bytes=, 0-9") == .single(first: 0, last: 9))
    }

    @Test func section14_2_malformedRangesAreIgnored() {
        for value in [
            "bytes=10-5", "bytes=", "bytes=,", "bytes=abc", "bytes=5", "bytes=-", "bytes=1-2-3", "bytes=--5", "bytes=0-9,x",
            "bytes = 0-9", "bytes 0-9", "items=0-9", "bytes=0x1-2", "bytes=+1-2", "=0-9", "bytes=1 -2",
        ] {
            #expect(range("Range: " + value) == .none, "\(value)")
        }
        #expect(range("Range: bytes=0-1", "Range: bytes=2-3") == .none)
    }

    @Test func noRangeIsTheWholeBody() {
        #expect(range() == .none)
        #expect(range("If-Range: \"v1\"") == .none)
    }

    @Test func section13_1_5_ifRangeWithAMatchingStrongETag() {
        #expect(range("Range: bytes=0-9", "If-Range: \"v1\"") == .single(first: 0, last: 9))
        #expect(range("Range: bytes=0-9", "If-Range: \"v2\"") == .none)
        #expect(range("Range: bytes=5000-", "If-Range: \"v2\"") == .none)
        #expect(range("Range: bytes=5000-", "If-Range: \"v1\"") == .unsatisfiable)
    }

    @Test func section13_1_5_weakETagsNeverMatchIfRange() {
        #expect(range("Range: bytes=0-9", "If-Range: W/\"v1\"") == .none)
        #expect(range("Range: bytes=0-9", "If-Range: \"v1\"", etag: "W/\"v1\"") == .none)
        #expect(range("Range: bytes=0-9", "If-Range: \"v1\"", etag: nil) == .none)
    }

    @Test func section13_1_5_ifRangeWithADateMustEqualLastModified() {
        #expect(range("Range: bytes=0-9", "If-Range: Sun, 06 Nov 1994 08:49:37 GMT") == .single(first: 0, last: 9))
        #expect(range("Range: bytes=0-9", "If-Range: Mon, 07 Nov 1994 08:49:37 GMT") == .none)
        #expect(range("Range: bytes=0-9", "If-Range: Sun, 06 Nov 1994 08:49:37 GMT", lastModified: nil) == .none)
        #expect(range("Range: bytes=0-9", "If-Range: garbage") == .none)
        #expect(range("Range: bytes=0-9", "If-Range: Wed, 09 Nov 1994 08:49:37 GMT") == .none)
    }
}
