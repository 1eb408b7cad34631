import Testing

@testable import SluiceHTTP

func parseRequest(_ text: String, limits: RequestLimits = RequestLimits()) -> (HeadParseResult, RequestHead) {
    var head = RequestHead()
    let bytes = Array(text.utf8)
    let r = bytes.withUnsafeBytes { head.parse($0, limits: limits) }
    return (r, head)
}

func status(_ text: String) -> Int? {
    if case .invalid(let e) = parseRequest(text).0 { return e.status }
    return nil
}

@Suite struct RequestHeadTests {
    @Test func parsesASimpleGet() {
        let (r, h) = parseRequest("GET /a?b=1 HTTP/1.1\r\nHost: shop.example\r\nAccept: */*\r\n\r\n")
        #expect(r == .complete(length: 56))
        #expect(h.method == .get)
        #expect(h.isHTTP11)
        #expect(h.keepAlive)
        #expect(h.framing == .none)
        #expect(h.fields.count == 2)
        #expect(h.hostIndex == 0)
    }

    @Test func incompleteUntilTheEmptyLine() {
        #expect(parseRequest("GET / HTTP/1.1\r\nHost: a\r\n").0 == .incomplete)
        #expect(parseRequest("GET / HT").0 == .incomplete)
    }

    @Test func contentLengthAndChunkedFraming() {
        #expect(parseRequest("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\n\r\n").1.framing == .contentLength(12))
        #expect(parseRequest("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n").1.framing == .contentLength(5))
        #expect(parseRequest("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n").1.framing == .chunked)
        #expect(parseRequest("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n").1.framing == .chunked)
    }

    @Test func ambiguousFramingIsRejected() {
        #expect(status("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n") == 400)
        #expect(status("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n") == 400)
        #expect(status("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\n") == 400)
        #expect(status("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n") == 400)
        #expect(status("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n") == 400)
        #expect(status("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n") == 400)
        #expect(status("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n") == 400)
        #expect(status("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n") == 400)
        #expect(status("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n") == 400)
        #expect(status("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n") == 400)
    }

    @Test func malformedHeadsAreRejected() {
        #expect(status("GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n folded\r\n\r\n") == 400)  // obs-fold
        #expect(status("GET / HTTP/1.1\r\nHost: a\r\nX : 1\r\n\r\n") == 400)  // space before colon
        #expect(status("GET / HTTP/1.1\r\nHost: a\r\nX\u{7}Y: 1\r\n\r\n") == 400)  // name not a token
        #expect(status("GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n") == 400)  // bare CR
        #expect(status("GET / HTTP/1.1\r\nHost: a\r\nX: a\u{0}b\r\n\r\n") == 400)  // NUL
        #expect(status("GET / HTTP/1.1\r\nHost: a\r\nX: a\u{1b}b\r\n\r\n") == 400)  // ESC
        #expect(status("GET / HTTP/1.1\nHost: a\n\n") == 400)  // bare LF
        #expect(status("GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n") == 400)
    }

    @Test func requestLineIsExact() {
        #expect(status("GET / http/1.1\r\nHost: a\r\n\r\n") == 400)
        #expect(status("GET /\r\n\r\n") == 400)  // HTTP/0.9
        #expect(status("GET  / HTTP/1.1\r\nHost: a\r\n\r\n") == 400)
        #expect(status("GET /a b HTTP/1.1\r\nHost: a\r\n\r\n") == 400)
        #expect(status("GET /a#frag HTTP/1.1\r\nHost: a\r\n\r\n") == 400)
        #expect(status("GET /a\u{0}b HTTP/1.1\r\nHost: a\r\n\r\n") == 400)
        #expect(status("GET / HTTP/2.0\r\nHost: a\r\n\r\n") == 505)
        #expect(status("CONNECT shop:443 HTTP/1.1\r\nHost: shop:443\r\n\r\n") == 405)
        #expect(status("GET shop.example/ HTTP/1.1\r\nHost: a\r\n\r\n") == 400)
        #expect(status("GET * HTTP/1.1\r\nHost: a\r\n\r\n") == 400)
        #expect(parseRequest("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n").1.method == .options)
    }

    @Test func overlongTargetIs414AndOverlongHeadIs431() {
        let limits = RequestLimits(maxHead: 4096, maxRequestLine: 1024)
        let longTarget = "GET /" + String(repeating: "a", count: 2000) + " HTTP/1.1\r\nHost: a\r\n\r\n"
        if case .invalid(let e) = parseRequest(longTarget, limits: limits).0 {
            #expect(e.status == 414)
        } else {
            Issue.record("not rejected")
        }
        let longHead = "GET / HTTP/1.1\r\nHost: a\r\nX: " + String(repeating: "b", count: 5000) + "\r\n\r\n"
        if case .invalid(let e) = parseRequest(longHead, limits: limits).0 {
            #expect(e.status == 431)
        } else {
            Issue.record("not rejected")
        }
    }

    @Test func moreFieldsThanMaxFieldsIs431() {
        func fields(_ n: Int) -> String {
            "GET / HTTP/1.1\r\nHost: a\r\n" + (1..<n).map { "X-F\($0): v\r\n" }.joined() + "\r\n"
        }
        let three = RequestLimits(maxFields: 3)
        if case .complete = parseRequest(fields(3), limits: three).0 {} else { Issue.record("3 fields refused") }
        if case .invalid(let e) = parseRequest(fields(4), limits: three).0 {
            #expect(e.status == 431)
        } else {
            Issue.record("4 fields accepted")
        }
        // The default stays 256.
        if case .complete = parseRequest(fields(256)).0 {} else { Issue.record("256 fields refused") }
        if case .invalid(let e) = parseRequest(fields(257)).0 { #expect(e.status == 431) } else { Issue.record("257 accepted") }
    }

    @Test func hostRules() {
        #expect(status("GET / HTTP/1.1\r\n\r\n") == 400)
        #expect(status("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n") == 400)
        #expect(status("GET / HTTP/1.1\r\nHost: a b\r\n\r\n") == 400)
        #expect(status("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n") == 400)
        #expect(status("GET / HTTP/1.1\r\nHost: a:99999999\r\n\r\n") == 400)
        #expect(status("GET / HTTP/1.1\r\nHost: \r\n\r\n") == 400)
        #expect(status("GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n") == nil)
        #expect(status("GET / HTTP/1.0\r\n\r\n") == nil)
    }

    @Test func absoluteFormSplitsAuthorityAndPath() {
        let text = "GET http://shop.example:8080/cart?x=1 HTTP/1.1\r\nHost: other\r\n\r\n"
        let (r, h) = parseRequest(text)
        guard case .complete = r else { Issue.record("not parsed"); return }
        let bytes = Array(text.utf8)
        #expect(String(decoding: bytes[h.authorityStart..<h.authorityEnd], as: UTF8.self) == "shop.example:8080")
        #expect(String(decoding: bytes[h.pathStart..<h.pathEnd], as: UTF8.self) == "/cart?x=1")
        #expect(status("GET http://user@shop/ HTTP/1.1\r\nHost: a\r\n\r\n") == 400)
    }

    @Test func connectionSemantics() {
        #expect(!parseRequest("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").1.keepAlive)
        #expect(!parseRequest("GET / HTTP/1.0\r\n\r\n").1.keepAlive)
        #expect(parseRequest("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").1.keepAlive)
        #expect(!parseRequest("GET / HTTP/1.0\r\nConnection: close, keep-alive\r\n\r\n").1.keepAlive)
        let up = parseRequest("GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n").1
        #expect(up.upgradeIndex == 1)
        let text = "GET / HTTP/1.1\r\nHost: a\r\nConnection: x-secret\r\nX-Secret: 1\r\n\r\n"
        let h = parseRequest(text).1
        #expect(h.connectionNamesFields)
        let named = Array(text.utf8).withUnsafeBytes { h.connectionNames($0.baseAddress!, field: 2) }
        #expect(named)
    }

    @Test func leadingEmptyLinesAreSkipped() {
        let (r, _) = parseRequest("\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(r == .complete(length: 29))
    }
}
