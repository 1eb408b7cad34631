import Foundation
import SluiceBackend
import Testing

@Suite struct ForwardingTests {
    @Test func getIsProxiedWithForwardingHeaders() throws {
        let b = try backend("app1")
        let proxy = try ProxyFixture.simple([b])
        let r = try get(proxy.port, "/headers", headers: "X-Forwarded-For: 10.9.9.9\r\nX-Forwarded-Proto: gopher\r\nKeep-Alive: 5\r\n")
        #expect(r.status == 200)
        #expect(r.header("X-Backend") == "app1")
        let seen = r.text
        #expect(seen.contains("X-Forwarded-For: 10.9.9.9, 127.0.0.1\r\n"))
        #expect(seen.contains("X-Forwarded-Proto: http\r\n"))
        #expect(!seen.contains("gopher"))
        #expect(seen.contains("X-Request-Id: "))
        #expect(!seen.lowercased().contains("keep-alive"))
        #expect(!seen.lowercased().contains("connection: close"))
        #expect(seen.hasPrefix("GET /headers HTTP/1.1\r\n"))
    }

    @Test func clientRequestIdIsKeptAndConnectionNamedFieldsRemoved() throws {
        let b = try backend("app1")
        let proxy = try ProxyFixture.simple([b])
        let c = try TestClient(port: proxy.port)
        let r = try c.request(
            "GET /headers HTTP/1.1\r\nHost: shop\r\nX-Request-Id: abc-123\r\nConnection: x-private\r\nX-Private: secret\r\n\r\n")
        #expect(r.text.contains("X-Request-Id: abc-123\r\n"))
        #expect(!r.text.contains("secret"))
        #expect(r.text.components(separatedBy: "X-Request-Id").count == 2)
    }

    @Test func absoluteFormAuthorityReplacesHost() throws {
        let b = try backend("app1")
        let proxy = try ProxyFixture.simple([b])
        let c = try TestClient(port: proxy.port)
        let r = try c.request("GET http://shop.example:81/headers?x=1 HTTP/1.1\r\nHost: other\r\n\r\n")
        #expect(r.status == 200)
        #expect(r.text.hasPrefix("GET /headers?x=1 HTTP/1.1\r\n"))
        #expect(r.text.contains("Host: shop.example:81\r\n"))
        #expect(!r.text.contains("Host: other"))
    }

    @Test func postWithContentLengthAndChunkedBodiesBothWays() throws {
        let b = try backend("app1")
        let proxy = try ProxyFixture.simple([b])
        let c = try TestClient(port: proxy.port)
        let r1 = try c.request("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world")
        #expect(r1.status == 200)
        #expect(r1.text == "hello world")
        #expect(r1.header("Content-Length") == "11")
        let r2 = try c.request(
            "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"
        )
        #expect(r2.status == 200)
        #expect(r2.text == "hello world")
        #expect(r2.header("Transfer-Encoding") == "chunked")
        #expect(r2.complete)
        let r3 = try c.request("GET /chunked/100000 HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(r3.body.count == 100_000)
        #expect(r3.complete)
    }

    @Test func headAnd204And304EndAtTheirHead() throws {
        let b = try backend("app1")
        let proxy = try ProxyFixture.simple([b])
        let c = try TestClient(port: proxy.port)
        let r = try c.request("HEAD /bytes/500 HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(r.status == 200)
        #expect(r.header("Content-Length") == "500")
        // The connection is still in step: the next answer is the next request's.
        let r2 = try c.request("GET /status/204 HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(r2.status == 204)
        let r3 = try c.request("GET /bytes/3 HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(r3.text == "xxx")
    }

    @Test func upstreamKeepAliveReusesConnections() throws {
        let b = try backend("app1")
        let proxy = try ProxyFixture.simple([b])
        for _ in 0..<20 {
            let c = try TestClient(port: proxy.port)
            for _ in 0..<10 {
                let r = try c.request("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
                #expect(r.status == 200)
            }
        }
        #expect(b.requestsServed == 200)
        #expect(b.connectionsAccepted <= 2)
    }

    @Test func pipelinedRequestsAreAnsweredInOrder() throws {
        let b = try backend("app1")
        let proxy = try ProxyFixture.simple([b])
        let c = try TestClient(port: proxy.port)
        try c.send(
            "GET /bytes/1 HTTP/1.1\r\nHost: a\r\n\r\nGET /delay/50 HTTP/1.1\r\nHost: a\r\n\r\n"
                + "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nabcdGET /bytes/2 HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(try c.readResponse().text == "x")
        #expect(try c.readResponse().body.count == 13)
        #expect(try c.readResponse().text == "abcd")
        #expect(try c.readResponse().text == "xx")
    }

    /// A client that sends its pipelined requests and then half-closes (`nc -N`, scripts) still
    /// gets every answer: a FIN during an exchange ends the connection after the requests it sent.
    @Test func pipelinedRequestsThenAHalfCloseAreAllAnswered() throws {
        let b = try backend("app1")
        let proxy = try ProxyFixture.simple([b])
        let c = try TestClient(port: proxy.port)
        try c.send("GET /delay/100 HTTP/1.1\r\nHost: a\r\n\r\nGET /bytes/3 HTTP/1.1\r\nHost: a\r\n\r\n")
        c.shutdownWrite()
        #expect(try c.readResponse().body.count == 13)
        #expect(try c.readResponse().text == "xxx")
        #expect(c.isClosedByServer())
    }

    @Test func expectContinueGetsTheBackends100() throws {
        let b = try backend("app1")
        let proxy = try ProxyFixture.simple([b])
        let c = try TestClient(port: proxy.port)
        try c.send("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n")
        try c.send("abc")
        var r = try c.readResponse()
        while r.status == 100 { r = try c.readResponse() }
        #expect(r.status == 200)
        #expect(r.text == "abc")
    }

    @Test func http10ClientGetsACloseDelimitedAnswer() throws {
        let b = try backend("app1")
        let proxy = try ProxyFixture.simple([b])
        let c = try TestClient(port: proxy.port)
        try c.send("GET /chunked/5000 HTTP/1.0\r\n\r\n")
        let r = try c.readResponse()
        #expect(r.status == 200)
        #expect(r.body.count == 5000)
        #expect(r.header("Transfer-Encoding") == nil)
    }

    @Test func webSocketEchoThroughTheTunnel() throws {
        let b = try backend("app1")
        let proxy = try ProxyFixture.simple([b])
        let c = try TestClient(port: proxy.port)
        try c.send(
            "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        let r = try c.readResponse()
        #expect(r.status == 101)
        #expect(r.header("Sec-WebSocket-Accept") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        #expect(r.header("Upgrade") == "websocket")
        // A masked text frame "Hello" (RFC 6455 §5.7).
        try c.send([0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58])
        var got: [UInt8] = []
        while got.count < 7 && c.fill() { got += c.drainBuffer() }
        #expect(got == [0x81, 0x05] + Array("Hello".utf8))
    }
}
