import Testing

@testable import SluiceHTTP

func decodeChunked(_ text: String) -> (String, Int, Bool)? {
    var d = ChunkedDecoder()
    var out: [UInt8] = []
    let bytes = Array(text.utf8)
    do {
        let used = try bytes.withUnsafeBytes { raw throws(HTTPParseError) in
            try d.decode(raw) { out.append(contentsOf: $0) }
        }
        return (String(decoding: out, as: UTF8.self), used, d.isDone)
    } catch {
        return nil
    }
}

func parseResponse(_ text: String) -> (HeadParseResult, ResponseHead) {
    var head = ResponseHead()
    let r = Array(text.utf8).withUnsafeBytes { head.parse($0, maxHead: 8192) }
    return (r, head)
}

@Suite struct ChunkedDecoderTests {
    @Test func decodesChunksExtensionsAndTrailers() {
        let r = decodeChunked("5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\nNEXT")
        #expect(r?.0 == "hello world")
        #expect(r?.2 == true)
        #expect(r?.1 == 40)  // stops before the next message
    }

    @Test func decodesByteByByte() {
        var d = ChunkedDecoder()
        var out: [UInt8] = []
        for b in Array("3\r\nabc\r\n0\r\n\r\n".utf8) {
            _ = try? [b].withUnsafeBytes { raw throws(HTTPParseError) in try d.decode(raw) { out.append(contentsOf: $0) } }
        }
        #expect(String(decoding: out, as: UTF8.self) == "abc")
        #expect(d.isDone)
    }

    @Test func leadingZerosInAChunkSizeAreAccepted() {
        let sixteen = String(repeating: "x", count: 16)
        let r = decodeChunked("0000000000000010\r\n\(sixteen)\r\n00000000000000000000\r\n\r\n")
        #expect(r?.0 == sixteen)
        #expect(r?.2 == true)
        // The largest size is still read (the body limit refuses it later, not the decoder).
        #expect(decodeChunked("000000FFFFFFFFFFFFFFF\r\nabc") != nil)
    }

    @Test func rejectsBadFraming() {
        #expect(decodeChunked("zz\r\nhello\r\n") == nil)
        #expect(decodeChunked("5\r\nhelloXX0\r\n\r\n") == nil)
        #expect(decodeChunked("1000000000000000\r\n") == nil)  // 2^60: past the largest chunk
        #expect(decodeChunked("FFFFFFFFFFFFFFFFF\r\n") == nil)  // would overflow Int
        #expect(decodeChunked(String(repeating: "0", count: 5000) + "1\r\n") == nil)  // endless size line
        #expect(decodeChunked("5\nhello\r\n") == nil)
        #expect(decodeChunked("-1\r\n") == nil)
        #expect(decodeChunked("5;\u{0}\r\nhello\r\n") == nil)
    }
}

@Suite struct ResponseHeadTests {
    @Test func parsesStatusAndFraming() {
        let (r, h) = parseResponse("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc")
        #expect(r == .complete(length: 38))
        #expect(h.status == 200)
        #expect(h.framing(requestMethod: .get) == .contentLength(3))
        #expect(h.framing(requestMethod: .head) == .none)
        #expect(parseResponse("HTTP/1.1 204 No Content\r\n\r\n").1.framing(requestMethod: .get) == .none)
        #expect(parseResponse("HTTP/1.1 200 OK\r\n\r\n").1.framing(requestMethod: .get) == .untilClose)
        #expect(parseResponse("HTTP/1.1 200\r\nTransfer-Encoding: chunked\r\n\r\n").1.framing(requestMethod: .get) == .chunked)
        #expect(parseResponse("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n").1.close)
    }

    @Test func rejectsInvalidResponsesWith502() {
        for bad in [
            "HTTP/1.1 20 OK\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", "HTTP/2 200 OK\r\n\r\n",
            "HTTP/1.1 200 OK\r\nX : y\r\n\r\n", "ICY 200 OK\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n",
            // RFC 9110 §15: status codes are 100 to 599.
            "HTTP/1.1 000 Zero\r\n\r\n", "HTTP/1.1 099 Low\r\n\r\n", "HTTP/1.1 600 High\r\n\r\n", "HTTP/1.1 999 Max\r\n\r\n",
        ] {
            if case .invalid(let e) = parseResponse(bad).0 { #expect(e.status == 502) } else { Issue.record("accepted: \(bad)") }
        }
    }
}
