import Foundation
import Glibc
import SluiceBackend
import Testing

@Suite struct TimeoutAndErrorTests {
    @Test func slowlorisHeadDribbleGets408() throws {
        let b = try backend("app1")
        let proxy = try ProxyFixture.simple([b], top: "timeouts: { client_head: 400ms }")
        let c = try TestClient(port: proxy.port)
        let start = Date()
        try c.send("GET / HTTP/1.1\r\n")
        for _ in 0..<6 {
            usleep(100_000)
            try? c.send("X-A: b\r\n")
        }
        let r = try c.readResponse()
        #expect(r.status == 408)
        #expect(Date().timeIntervalSince(start) < 5)
        #expect(b.requestsServed == 0)
    }

    @Test func idleKeepAliveConnectionIsClosedAfterClientIdle() throws {
        let b = try backend("app1")
        let proxy = try ProxyFixture.simple([b], top: "timeouts: { client_idle: 300ms }")
        let c = try TestClient(port: proxy.port)
        #expect(try c.request("GET / HTTP/1.1\r\nHost: a\r\n\r\n").status == 200)
        #expect(c.isClosedByServer())
    }

    @Test func slowBackendGets504() throws {
        let b = try backend("app1")
        let proxy = try ProxyFixture.simple([b], cluster: "    timeouts: { response: 300ms }")
        let r = try get(proxy.port, "/delay/3000")
        #expect(r.status == 504)
        #expect(r.text.contains("did not answer in time"))
    }

    @Test func refusedBackendGets502() throws {
        let b = try backend("app1")
        let port = b.port
        b.stop()  // nothing listens there now
        let proxy = try ProxyFixture.single(port: port)
        let r = try get(proxy.port, "/")
        #expect(r.status == 502)
        #expect(r.header("Content-Type")?.hasPrefix("text/plain") == true)
    }

    @Test func backendThatClosesWithoutAnsweringGets502() throws {
        let raw = try RawBackend(reply: "", closeAfter: true)
        let proxy = try ProxyFixture.single(port: raw.port)
        #expect(try get(proxy.port, "/").status == 502)
    }

    @Test func noMatchingRouteGets404() throws {
        let b = try backend("app1")
        let proxy = try ProxyFixture(
            """
            workers: 1
            access_log: { path: off }
            listeners:
              - name: web
                listen: 127.0.0.1:0
                routes:
                  - { match: { host: shop.example, path_prefix: /cart/ }, cluster: app }
            clusters:
              - { name: app, backends: [ { address: 127.0.0.1:\(b.port) } ] }
            """)
        #expect(try TestClient(port: proxy.port).request("GET /cart/1 HTTP/1.1\r\nHost: shop.example:8080\r\n\r\n").status == 200)
        #expect(try TestClient(port: proxy.port).request("GET /cart/1 HTTP/1.1\r\nHost: SHOP.example\r\n\r\n").status == 200)
        #expect(try TestClient(port: proxy.port).request("GET /other HTTP/1.1\r\nHost: shop.example\r\n\r\n").status == 404)
        #expect(try TestClient(port: proxy.port).request("GET /cart/1 HTTP/1.1\r\nHost: evil.example\r\n\r\n").status == 404)
    }

    @Test func maxConnectionsPausesAcceptUntilOneCloses() throws {
        let b = try backend("app1")
        let proxy = try ProxyFixture.simple([b], top: "limits: { max_connections: 2 }")
        let c1 = try TestClient(port: proxy.port)
        let c2 = try TestClient(port: proxy.port)
        #expect(try c1.request("GET / HTTP/1.1\r\nHost: a\r\n\r\n").status == 200)
        #expect(try c2.request("GET / HTTP/1.1\r\nHost: a\r\n\r\n").status == 200)
        // The third connects (kernel backlog) but is not served while two are open.
        let c3 = try TestClient(port: proxy.port, timeoutSeconds: 1)
        try c3.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(throws: (any Error).self) { try c3.readResponse() }
        _ = c1  // keep open until here
        withExtendedLifetime(c2) {}
    }
}
