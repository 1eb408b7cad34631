import SluiceBuffers
import Testing

@testable import SluiceHTTP

/// What the proxy writes: the forwarded request head, the forwarded response head, re-chunked
/// bodies and its own error answers, checked byte for byte.
@Suite struct SerializingTests {
    static func text(_ b: ByteBuffer) -> String { String(decoding: b.readable, as: UTF8.self) }

    static func forward(_ request: String, https: Bool = false, ip: String = "10.0.0.9") -> (String, ForwardedRequestHead) {
        var head = RequestHead()
        let bytes = Array(request.utf8)
        let o = ByteBuffer(capacity: 1024)
        var w = ForwardedRequestHead()
        bytes.withUnsafeBytes { p in
            _ = head.parse(p, limits: RequestLimits())
            Array(ip.utf8).withUnsafeBytes { ipBytes in
                w.write(head, p.baseAddress!, into: o, clientIP: ipBytes, https: https) { $0.append("new-id") }
            }
        }
        return (text(o), w)
    }

    @Test func hopByHopFieldsAndTheOnesConnectionNamesAreRemoved() {
        let (out, _) = Self.forward(
            "GET /a?b=1 HTTP/1.1\r\nHost: shop\r\nConnection: keep-alive, X-Secret\r\nKeep-Alive: 5\r\nX-Secret: 1\r\nTE: trailers\r\nProxy-Connection: x\r\nAccept: */*\r\n\r\n"
        )
        #expect(
            out
                == "GET /a?b=1 HTTP/1.1\r\nHost: shop\r\nAccept: */*\r\nX-Forwarded-For: 10.0.0.9\r\nX-Forwarded-Proto: http\r\nX-Request-Id: new-id\r\n\r\n"
        )
    }

    @Test func forwardedForFoldsEveryListInOrderThenTheClient() {
        let (out, _) = Self.forward(
            "GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 1.1.1.1\r\nX-Forwarded-Proto: https\r\nX-Forwarded-For: 2.2.2.2, 3.3.3.3\r\n\r\n",
            https: false)
        #expect(out.contains("X-Forwarded-For: 1.1.1.1, 2.2.2.2, 3.3.3.3, 10.0.0.9\r\n"))
        #expect(out.contains("X-Forwarded-Proto: http\r\n"))  // the client's own claim is replaced
        #expect(!out.contains("https"))
        #expect(Self.forward("GET / HTTP/1.1\r\nHost: a\r\n\r\n", https: true).0.contains("X-Forwarded-Proto: https\r\n"))
    }

    @Test func aRequestIdIsKeptOrAddedAndItsOffsetsPointAtIt() {
        let (kept, k) = Self.forward("GET /x HTTP/1.1\r\nHost: a\r\nX-Request-Id: abc-1\r\n\r\n")
        let keptBytes = Array(kept.utf8)
        #expect(String(decoding: keptBytes[k.requestIdStart..<k.requestIdEnd], as: UTF8.self) == "abc-1")
        #expect(kept.split(separator: "\r\n").filter { $0.hasPrefix("X-Request-Id") }.count == 1)
        let (added, a) = Self.forward("POST /y HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n")
        let addedBytes = Array(added.utf8)
        #expect(String(decoding: addedBytes[a.requestIdStart..<a.requestIdEnd], as: UTF8.self) == "new-id")
        #expect(String(decoding: addedBytes[0..<a.methodEnd], as: UTF8.self) == "POST")
        #expect(String(decoding: addedBytes[a.pathStart..<a.pathEnd], as: UTF8.self) == "/y")
    }

    @Test func framingIsRestatedAndAbsoluteFormBecomesOriginForm() {
        let (chunked, _) = Self.forward("POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n")
        #expect(chunked.hasSuffix("Transfer-Encoding: chunked\r\n\r\n"))
        #expect(!chunked.contains("gzip"))
        let (length, _) = Self.forward("POST /u HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n")
        #expect(length.hasSuffix("Content-Length: 5\r\n\r\n"))
        let (absolute, _) = Self.forward("GET http://shop.example:8080?q=1 HTTP/1.1\r\nHost: other\r\n\r\n")
        #expect(absolute.hasPrefix("GET /?q=1 HTTP/1.1\r\n"))
        #expect(absolute.contains("Host: shop.example:8080\r\n"))
        #expect(!absolute.contains("other"))
    }

    @Test func anUpgradeIsForwardedWithItsProtocol() {
        let (out, _) = Self.forward("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
        #expect(out.hasSuffix("Connection: upgrade\r\nUpgrade: websocket\r\n\r\n"))
    }

    static func respond(
        _ response: String, mode: ClientBodyMode, upgrade: Bool = false, keepAlive: Bool = true, http11: Bool = true,
        method: Method = .get
    ) -> String {
        var r = ResponseHead()
        let bytes = Array(response.utf8)
        let o = ByteBuffer(capacity: 1024)
        bytes.withUnsafeBytes { p in
            _ = r.parse(p, maxHead: 4096)
            ForwardedResponseHead.write(
                r, p.baseAddress!, into: o, mode: mode, framing: r.framing(requestMethod: method), upgrade: upgrade,
                keepAlive: keepAlive, clientIsHTTP11: http11)
        }
        return text(o)
    }

    @Test func aResponseHeadLosesHopByHopFieldsAndRestatesItsFraming() {
        #expect(
            Self.respond(
                "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nX-A: 1\r\n\r\n", mode: .raw)
                == "HTTP/1.1 200 OK\r\nX-A: 1\r\nContent-Length: 3\r\n\r\n")
        #expect(
            Self.respond("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\n\r\n", mode: .chunked)
                == "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        // A close-delimited HTTP/1.0 answer to an HTTP/1.1 client is re-chunked, and says so.
        #expect(
            Self.respond("HTTP/1.0 200 OK\r\nX-B: 2\r\n\r\n", mode: .chunked)
                == "HTTP/1.1 200 OK\r\nX-B: 2\r\nTransfer-Encoding: chunked\r\n\r\n")
    }

    @Test func theConnectionFieldSaysCloseOrKeepAliveForHTTP10() {
        #expect(Self.respond("HTTP/1.1 204 No Content\r\n\r\n", mode: .none, keepAlive: false).hasSuffix("Connection: close\r\n\r\n"))
        #expect(
            Self.respond("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", mode: .none, http11: false)
                == "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n")
    }

    @Test func interimAndSwitchingProtocolHeads() {
        #expect(Self.respond("HTTP/1.1 100 Continue\r\n\r\n", mode: .none, keepAlive: false) == "HTTP/1.1 100 Continue\r\n\r\n")
        #expect(
            Self.respond(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", mode: .none, upgrade: true)
                == "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n")
        // A HEAD answer keeps the length it announces (no body follows).
        #expect(
            Self.respond("HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n", mode: .none, method: .head).contains("Content-Length: 99\r\n"))
    }

    @Test func chunksAreWrittenWithHexSizesAndAnEmptyPieceWritesNothing() {
        let o = ByteBuffer(capacity: 64)
        let data = Array("hello, world!!!!".utf8)
        data.withUnsafeBytes { ChunkedEncoder.append($0, to: o) }
        [UInt8]().withUnsafeBytes { ChunkedEncoder.append($0, to: o) }
        ChunkedEncoder.appendEnd(to: o)
        #expect(Self.text(o) == "10\r\nhello, world!!!!\r\n0\r\n\r\n")
        var decoder = ChunkedDecoder(errorStatus: 502)
        var decoded: [UInt8] = []
        _ = try? decoder.decode(o.readable) { decoded.append(contentsOf: $0) }
        #expect(decoded == data && decoder.isDone)
    }

    @Test func errorAnswersArePlainTextAndCloseAfterWhatWasAlreadyQueued() {
        let o = ByteBuffer(capacity: 256)
        o.append("earlier answer|")
        let n = ErrorResponse.write(status: 503, reason: "no backend available", retryAfter: 7, into: o)
        #expect(n == 21)
        #expect(
            Self.text(o)
                == "earlier answer|HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 21\r\nConnection: close\r\nRetry-After: 7\r\n\r\nno backend available\n"
        )
        o.clear()
        ErrorResponse.write(status: 404, reason: "x", retryAfter: nil, into: o)
        #expect(!Self.text(o).contains("Retry-After"))
        #expect(Self.text(o).hasPrefix("HTTP/1.1 404 Not Found\r\n"))
        o.clear()
        ErrorResponse.write(status: 429, reason: "rate limit exceeded", retryAfter: 3, close: false, into: o)
        #expect(
            Self.text(o)
                == "HTTP/1.1 429 Too Many Requests\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 20\r\nRetry-After: 3\r\n\r\nrate limit exceeded\n"
        )
    }
}
