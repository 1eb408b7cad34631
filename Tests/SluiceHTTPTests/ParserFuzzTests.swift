import Testing

@testable import SluiceHTTP

/// Mutated and random inputs: the parsers answer complete, incomplete or invalid, never crash,
/// and never accept a head whose framing is ambiguous.
@Suite struct ParserFuzzTests {
    static let seeds = [
        "GET /a?b=1 HTTP/1.1\r\nHost: shop\r\nAccept: */*\r\n\r\n",
        "POST /cart HTTP/1.1\r\nHost: shop\r\nContent-Length: 5\r\n\r\nhello",
        "POST /cart HTTP/1.1\r\nHost: shop\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        "GET http://shop:80/x HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n",
    ]

    struct Rng {
        var state: UInt64
        mutating func next() -> UInt64 {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return state
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    }

    @Test func mutatedRequestsNeverCrashAndNeverAcceptAmbiguousFraming() {
        var rng = Rng(state: 0x9E37_79B9_7F4A_7C15)
        let alphabet: [UInt8] = Array(" \r\n\t:,;0123456789abcdefABCDEF-/\u{0}\u{7f}Hh".utf8) + [0x80, 0xff]
        var head = RequestHead()
        var outcomes = [0, 0, 0]
        for i in 0..<20_000 {
            var bytes = Array(Self.seeds[i % Self.seeds.count].utf8)
            for _ in 0..<(1 + rng.below(4)) {
                let pos = rng.below(bytes.count)
                switch rng.below(3) {
                case 0: bytes[pos] = alphabet[rng.below(alphabet.count)]
                case 1: bytes.insert(alphabet[rng.below(alphabet.count)], at: pos)
                default: if bytes.count > 1 { bytes.remove(at: pos) }
                }
            }
            let r = bytes.withUnsafeBytes { head.parse($0, limits: RequestLimits(maxHead: 4096)) }
            switch r {
            case .complete(let length):
                outcomes[0] += 1
                #expect(length <= bytes.count)
                let fields = head.fields
                let hasCL = fields.contains { $0.kind == .contentLength }
                let hasTE = fields.contains { $0.kind == .transferEncoding }
                #expect(!(hasCL && hasTE), "accepted CL with TE: \(String(decoding: bytes, as: UTF8.self))")
                #expect(fields.filter { $0.kind == .host }.count <= 1)
                // Every accepted field name is a token and every value is free of CR/LF/NUL.
                bytes.withUnsafeBytes { raw in
                    for f in fields {
                        for k in Int(f.nameStart)..<Int(f.nameEnd) { #expect(ByteClass.isTChar(raw[k])) }
                        for k in Int(f.valueStart)..<Int(f.valueEnd) { #expect(ByteClass.isFieldValueByte(raw[k])) }
                    }
                }
            case .incomplete: outcomes[1] += 1
            case .invalid(let e):
                outcomes[2] += 1
                #expect([400, 405, 414, 431, 505].contains(e.status))
            }
        }
        // The mutations exercise all three outcomes.
        #expect(outcomes.allSatisfy { $0 > 100 }, "\(outcomes)")
    }

    @Test func randomBytesNeverCrashTheChunkedDecoderOrResponseParser() {
        var rng = Rng(state: 42)
        var response = ResponseHead()
        for _ in 0..<20_000 {
            let n = 1 + rng.below(64)
            let bytes = (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) | (rng.below(2) == 0 ? 0x30 : 0) }
            var d = ChunkedDecoder()
            var total = 0
            if let used = try? bytes.withUnsafeBytes({ raw throws(HTTPParseError) in try d.decode(raw) { total += $0.count } }) {
                #expect(used <= n)
                #expect(total <= n)
            }
            let r = bytes.withUnsafeBytes { response.parse($0, maxHead: 1024) }
            if case .invalid(let e) = r { #expect(e.status == 502) }
        }
    }
}
