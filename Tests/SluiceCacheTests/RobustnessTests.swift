import Foundation
import SluiceCache
import Testing

/// Generated field values (a fixed seed, so failures repeat): the per-hit parsers never read
/// outside a value, and what they return keeps its invariants.
@Suite struct RobustnessTests {
    /// xorshift64*: small, deterministic.
    struct Generator {
        var state: UInt64
        mutating func next(_ bound: Int) -> Int {
            state ^= state >> 12
            state ^= state << 25
            state ^= state >> 27
            return Int((state &* 2_685_821_657_736_338_717) >> 33) % bound
        }
        mutating func text(from alphabet: [Character], count: Int) -> String {
            String((0..<next(count + 1)).map { _ in alphabet[next(alphabet.count)] })
        }
    }

    @Test func generatedRangesStayInsideTheBody() {
        var g = Generator(state: 0x5EED)
        let alphabet = Array("bytes=-,0123456789 \t9-")
        var singles = 0
        for _ in 0..<3000 {
            let value = "bytes=" + g.text(from: alphabet, count: 14)
            let length = g.next(50)
            let h = TestHead.request(["Range: " + value])
            let r = ByteRange.parse(request: h.p, h.fields, length: length, storedETag: nil, storedLastModified: nil)
            if case .single(let first, let last) = r {
                singles += 1
                #expect(first >= 0 && first <= last && last < length, "\(value) over \(length): \(r)")
            }
        }
        #expect(singles > 20)
    }

    @Test func generatedCacheControlValuesGiveBoundedDirectives() {
        var g = Generator(state: 0xCAC4E)
        let words = [
            "max-age", "s-maxage", "no-cache", "max-stale", "min-fresh", "stale-if-error", "=", "\"", ",", " ", "7", "99999999999", "x",
        ]
        for _ in 0..<3000 {
            let value = (0..<g.next(9)).map { _ in words[g.next(words.count)] }.joined()
            let cc = TestHead.response(200, ["Cache-Control: " + value]).cc
            for v in [cc.maxAge, cc.sMaxAge, cc.minFresh, cc.staleIfError] {
                if let v { #expect(v >= 0 && v <= 2_147_483_648, "\(value)") }
            }
            if let v = cc.maxStale { #expect(v >= 0, "\(value)") }
        }
    }

    @Test func mutatedDatesParseToNothingOrToADateThatFormatsBack() {
        var g = Generator(state: 0xDA7E)
        let alphabet = Array("0123456789 ,:-GMTSunNovWed")
        let valid = ["Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994"]
        var parsed = 0
        for _ in 0..<3000 {
            var chars = Array(valid[g.next(valid.count)])
            for _ in 0...g.next(2) { chars[g.next(chars.count)] = alphabet[g.next(alphabet.count)] }
            let text = String(chars)
            guard let t = HTTPDate.parse(text) else { continue }
            parsed += 1
            var out: [UInt8] = []
            HTTPDate.format(t, into: &out)
            let back = HTTPDate.parse(String(decoding: out, as: UTF8.self))
            #expect(back == t || text.contains(":60"), "\(text)")
        }
        #expect(parsed > 100 && parsed < 3000)
    }

    @Test func generatedEntityTagListsNeverCrashAndStarAlwaysMatches() {
        var g = Generator(state: 0xE7A6)
        let alphabet = Array("W/\"a1, *")
        var stars = 0
        for _ in 0..<3000 {
            let value = g.text(from: alphabet, count: 16)
            guard !value.allSatisfy({ $0 == " " }) else { continue }
            let h = TestHead.request(["If-None-Match: " + value])
            let matched = withBytes("\"a1\"") { Conditional.notModified(request: h.p, h.fields, storedETag: $0, storedLastModified: nil) }
            let first = value.trimmingPrefix(while: { $0 == " " || $0 == "," }).prefix(while: { $0 != "," })
            if first.trimmingCharacters(in: .whitespaces) == "*" {
                stars += 1
                #expect(matched, "\(value)")
            }
        }
        #expect(stars > 10)
    }
}
