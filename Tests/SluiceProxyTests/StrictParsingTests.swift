import Foundation
import SluiceBackend
import Testing

/// Each ambiguous or malformed request gets its 4xx, the connection closes,
/// and the smuggled part never reaches the backend.
@Suite struct StrictParsingTests {
    static let attacks: [(String, String, Int)] = [
        (
            "CL and TE",
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n",
            400
        ),
        (
            "two differing CL",
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nContent-Length: 37\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n", 400
        ),
        ("malformed CL", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1_0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        (
            "TE not ending in chunked",
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n", 400
        ),
        (
            "TE with space before colon",
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n", 400
        ),
        ("obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n Transfer-Encoding: chunked\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n", 400),
        ("bare CR", "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\rTransfer-Encoding: chunked\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n", 400),
        ("NUL in a value", "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\u{0}2\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n", 400),
        ("field name not a token", "GET / HTTP/1.1\r\nHost: a\r\nX[A]: 1\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n", 400),
        (
            "invalid chunk size",
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n", 400
        ),
        (
            "overflowing chunk size",
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000001\r\nx\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n",
            400
        ),
        ("lowercase version", "GET / http/1.1\r\nHost: a\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n", 400),
        ("HTTP/0.9", "GET /smuggled\r\n\r\n", 400),
        ("space in target", "GET /a b HTTP/1.1\r\nHost: a\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n", 400),
        ("fragment in target", "GET /a#smuggled HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ("missing Host", "GET /smuggled HTTP/1.1\r\n\r\n", 400),
        ("two Hosts", "GET /smuggled HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        ("malformed Host", "GET /smuggled HTTP/1.1\r\nHost: a@b\r\n\r\n", 400),
        ("CONNECT", "CONNECT smuggled:443 HTTP/1.1\r\nHost: smuggled:443\r\n\r\n", 405),
    ]

    @Test(arguments: 0..<attacks.count)
    func rejectedAndNeverForwarded(_ index: Int) throws {
        let (name, request, status) = Self.attacks[index]
        let recorder = try RawBackend(reply: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", closeAfter: false)
        let proxy = try ProxyFixture.single(port: recorder.port)
        let c = try TestClient(port: proxy.port)
        let r = try c.request(request)
        #expect(r.status == status, "\(name)")
        #expect(r.header("Connection") == "close", "\(name)")
        #expect(c.isClosedByServer(), "\(name): connection left open")
        #expect(!recorder.receivedText.contains("smuggled"), "\(name): reached the backend")
    }

    @Test func overlongTargetIs414AndOverlongHeadIs431() throws {
        let b = try backend("app1")
        let proxy = try ProxyFixture.simple([b], top: "limits: { max_request_head: 4KiB }")
        let r1 = try TestClient(port: proxy.port).request("GET /" + String(repeating: "a", count: 9000) + " HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(r1.status == 414)
        let r2 = try TestClient(port: proxy.port).request(
            "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + String(repeating: "b", count: 5000) + "\r\n\r\n")
        #expect(r2.status == 431)
        #expect(b.requestsServed == 0)
    }

    @Test func moreHeaderFieldsThanMaxRequestHeadersIs431() throws {
        let b = try backend("app1")
        let proxy = try ProxyFixture.simple([b], top: "limits: { max_request_headers: 8 }")
        func request(fields n: Int) -> String {
            "GET / HTTP/1.1\r\nHost: a\r\n" + (1..<n).map { "X-F\($0): v\r\n" }.joined() + "Connection: close\r\n\r\n"
        }
        #expect(try TestClient(port: proxy.port).request(request(fields: 7)).status == 200)
        #expect(try TestClient(port: proxy.port).request(request(fields: 8)).status == 431)
        #expect(b.requestsServed == 1)
    }

    @Test func bodyOverTheLimitIs413() throws {
        let b = try backend("app1")
        let proxy = try ProxyFixture.simple([b], top: "limits: { max_request_body: 1KiB }")
        let r1 = try TestClient(port: proxy.port).request("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 2000\r\n\r\n")
        #expect(r1.status == 413)
        let chunk = String(repeating: "z", count: 1500)
        let r2 = try TestClient(port: proxy.port).request(
            "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5dc\r\n\(chunk)\r\n0\r\n\r\n")
        #expect(r2.status == 413)
    }

    @Test func invalidResponsesBecome502AndTheConnectionIsNotReused() throws {
        let replies = [
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\nok",
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok",
            "HTTP/1.1 2000 OK\r\n\r\n",
            "HTTP/1.1 600 Beyond\r\nContent-Length: 2\r\n\r\nok",
            "HTTP/1.1 099 Below\r\nContent-Length: 2\r\n\r\nok",
            "HTTP/1.1 200 OK\r\nBad Header: x\r\n\r\n",
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
        ]
        for reply in replies {
            let raw = try RawBackend(reply: reply, closeAfter: false)
            let proxy = try ProxyFixture.single(port: raw.port)
            let r = try TestClient(port: proxy.port).request("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
            #expect(r.status == 502, "\(reply)")
        }
    }

    @Test func chunkSizesWithLeadingZerosAreForwarded() throws {
        let sixteen = String(repeating: "x", count: 16)
        let raw = try RawBackend(
            reply: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0000000000000010\r\n\(sixteen)\r\n0000000000000000\r\n\r\n",
            closeAfter: false)
        let proxy = try ProxyFixture.single(port: raw.port)
        let r = try TestClient(port: proxy.port).request("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(r.status == 200)
        #expect(r.complete)
        #expect(r.text == sixteen)
        // A client's chunked body with leading zeros reaches the backend too.
        let b = try backend("app1")
        let echo = try ProxyFixture.single(port: b.port)
        let e = try TestClient(port: echo.port).request(
            "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n00000000000000005\r\nhello\r\n0000000000000000\r\n\r\n")
        #expect(e.status == 200)
        #expect(e.text == "hello")
    }

    @Test func backendClosingMidBodyGivesAVisiblyCutResponse() throws {
        for reply in [
            "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly some",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
        ] {
            let raw = try RawBackend(reply: reply, closeAfter: true)
            let proxy = try ProxyFixture.single(port: raw.port)
            let c = try TestClient(port: proxy.port)
            let r = try c.request("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
            #expect(r.status == 200)
            #expect(!r.complete, "a cut body looked complete: \(reply)")
        }
    }

    @Test func strayBytesAfterAResponseCloseTheUpstreamConnection() throws {
        let raw = try RawBackend(
            reply: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nforged", closeAfter: false)
        let proxy = try ProxyFixture.single(port: raw.port)
        let c = try TestClient(port: proxy.port)
        #expect(try c.request("GET /1 HTTP/1.1\r\nHost: a\r\n\r\n").text == "ok")
        #expect(try c.request("GET /2 HTTP/1.1\r\nHost: a\r\n\r\n").text == "ok")
        #expect(raw.connectionCount == 2)
    }
}

@Suite struct GarbageInputTests {
    /// Random bytes at the proxy: each connection gets an answer or a close, and the proxy
    /// keeps serving well-formed requests afterwards.
    @Test func garbageNeverTakesTheProxyDown() throws {
        let b = try backend("app1")
        let proxy = try ProxyFixture.simple([b])
        var state: UInt64 = 0xDEAD_BEEF
        for _ in 0..<200 {
            let c = try TestClient(port: proxy.port, timeoutSeconds: 2)
            var bytes: [UInt8] = []
            for _ in 0..<(1 + Int(state % 300)) {
                state ^= state << 13
                state ^= state >> 7
                state ^= state << 17
                bytes.append(UInt8(truncatingIfNeeded: state))
            }
            bytes += Array("\r\n\r\n".utf8)
            try? c.send(bytes)
            _ = c.readToEnd()
        }
        #expect(try get(proxy.port, "/").status == 200)
    }
}
