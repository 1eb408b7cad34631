import SluiceCache
import Testing

/// RFC 9110 §5.6.7 HTTP-date: the three forms a recipient accepts, and the one Sluice sends.
@Suite struct HTTPDateTests {
    /// Sun, 06 Nov 1994 08:49:37 GMT, the RFC's own example.
    let example: Int64 = 784_111_777

    @Test func section5_6_7_imfFixdate() {
        #expect(HTTPDate.parse("Sun, 06 Nov 1994 08:49:37 GMT") == example)
        #expect(HTTPDate.parse("Thu, 01 Jan 1970 00:00:00 GMT") == 0)
    }

    @Test func section5_6_7_obsoleteRfc850Form() {
        #expect(HTTPDate.parse("Sunday, 06-Nov-94 08:49:37 GMT") == example)
        #expect(HTTPDate.parse("Wednesday, 01-Jan-25 00:00:00 GMT") == HTTPDate.parse("Wed, 01 Jan 2025 00:00:00 GMT"))
    }

    @Test func section5_6_7_obsoleteAsctimeForm() {
        #expect(HTTPDate.parse("Sun Nov  6 08:49:37 1994") == example)
        #expect(HTTPDate.parse("Mon Dec 25 10:00:00 2023") == HTTPDate.parse("Mon, 25 Dec 2023 10:00:00 GMT"))
    }

    @Test func section5_6_7_surroundingWhitespaceAndCaseAreTolerated() {
        #expect(HTTPDate.parse("  sun, 06 NOV 1994 08:49:37 GMT\t") == example)
    }

    @Test func section5_6_7_leapDaysAndLeapSeconds() {
        #expect(HTTPDate.parse("Thu, 29 Feb 2024 00:00:00 GMT") == 1_709_164_800)
        #expect(HTTPDate.parse("Thu, 29 Feb 2023 00:00:00 GMT") == nil)
        #expect(HTTPDate.parse("Tue, 29 Feb 2000 00:00:00 GMT") != nil)
        #expect(HTTPDate.parse("Thu, 29 Feb 1900 00:00:00 GMT") == nil)
        #expect(HTTPDate.parse("Sat, 31 Dec 2016 23:59:60 GMT") == 1_483_228_800)
    }

    @Test func section5_6_7_garbageIsNotADate() {
        for text in [
            "", "0", "tomorrow", "-1", "Sun, 06 Nov 1994 08:49:37", "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 06 Nov 1994 08:49:37 GMT x", "Sun, 6 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 94 08:49:37 GMT",
            "Sun, 06 Foo 1994 08:49:37 GMT", "Sun, 32 Jan 1994 08:49:37 GMT", "Sun, 06 Nov 1994 24:00:00 GMT",
            "Sun, 06 Nov 1994 08:60:00 GMT", "Sun, 06 Nov 1994 08:49:61 GMT", "Xyz, 06 Nov 1994 08:49:37 GMT",
            "Sun 06 Nov 1994 08:49:37 GMT", "Sunday, 06 Nov 1994 08:49:37 GMT", "Sun, 06-Nov-94 08:49:37 GMT",
            "Sun Nov 6 08:49:37 1994", "Sun, 00 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 8:49:37 GMT",
        ] {
            #expect(HTTPDate.parse(text) == nil, "\(text)")
        }
    }

    @Test func section5_6_7_formatWritesTheImfFixdate() {
        var out: [UInt8] = []
        HTTPDate.format(example, into: &out)
        #expect(String(decoding: out, as: UTF8.self) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(out.count == 29)
        HTTPDate.format(0, into: &out)
        #expect(String(decoding: out, as: UTF8.self) == "Sun, 06 Nov 1994 08:49:37 GMTThu, 01 Jan 1970 00:00:00 GMT")
    }

    @Test func section5_6_7_formatRoundTripsThroughParse() {
        var t: Int64 = -86_400 * 365
        while t < 4_102_444_800 {  // through 2100, including leap days and month ends
            var out: [UInt8] = []
            HTTPDate.format(t, into: &out)
            let text = String(decoding: out, as: UTF8.self)
            #expect(out.count == 29)
            #expect(HTTPDate.parse(text) == t, "\(t) \(text)")
            t += 86_400 * 17 + 3_599
        }
    }

    @Test func formatDoesNotGrowAnArrayWithCapacity() {
        var out: [UInt8] = []
        out.reserveCapacity(64)
        let before = out.capacity
        HTTPDate.format(1_700_000_000, into: &out)
        #expect(out.capacity == before)
        #expect(String(decoding: out, as: UTF8.self) == "Tue, 14 Nov 2023 22:13:20 GMT")
    }
}
