import Foundation
import Glibc
import Testing

/// Issue 6.3, 6.4, 6.7: each phase of an exchange has its own deadline and only its own
/// (DESIGN §3 "Timeouts, one per phase"). Every case sets the timeouts apart from each other,
/// so a phase that borrowed another's deadline answers at the wrong time.
@Suite struct PhaseTimeoutTests {
    @Test func aBackendSlowerThanConnectButFasterThanResponseIsASuccess() throws {
        let b = try backend("app1")
        let proxy = try ProxyFixture.simple(
            [b], cluster: "    timeouts: { connect: 500ms, response: 30s }\n    retries: { attempts: 2 }")
        let start = Date()
        let r = try get(proxy.port, "/delay/1500")
        let elapsed = Date().timeIntervalSince(start)
        #expect(r.status == 200)
        #expect(elapsed >= 1.4 && elapsed < 5, "took \(elapsed) s")
        #expect(b.requestsServed == 1, "retried after the connect timeout")
    }

    @Test func theResponseTimeoutCountsNotTheConnectTimeout() throws {
        let b = try backend("app1")
        let proxy = try ProxyFixture.simple([b], cluster: "    timeouts: { connect: 3s, response: 1s }")
        let start = Date()
        let r = try get(proxy.port, "/delay/2500")
        let elapsed = Date().timeIntervalSince(start)
        #expect(r.status == 504)
        #expect(elapsed >= 0.9 && elapsed < 2, "504 after \(elapsed) s, expected about 1 s")
    }

    @Test func theResponseTimeoutStartsWhenTheRequestIsFullySent() throws {
        // A slow upload takes longer than `response`; the backend answers at once after it.
        let b = try backend("app1")
        let proxy = try ProxyFixture.simple([b], cluster: "    timeouts: { connect: 200ms, response: 700ms }")
        let c = try TestClient(port: proxy.port)
        try c.send("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 8\r\n\r\n")
        for piece in ["ab", "cd", "ef", "gh"] {
            usleep(400_000)  // each silence below `response`, the whole upload above it
            try c.send(piece)
        }
        let r = try c.readResponse()
        #expect(r.status == 200)
        #expect(r.text == "abcdefgh")
    }

    @Test func anUpstreamHeadOverTheLimitIs502AtOnceAndTheConnectionIsClosed() throws {
        let big = String(repeating: "X-Filler: " + String(repeating: "a", count: 440) + "\r\n", count: 100)  // ~45 KiB
        let raw = try RawBackend(reply: "HTTP/1.1 200 OK\r\n\(big)Content-Length: 2\r\n\r\nok", closeAfter: false)
        let proxy = try ProxyFixture(
            """
            workers: 1
            access_log: { path: off }
            timeouts: { response: 10s }
            listeners:
              - { name: web, listen: 127.0.0.1:0, routes: [ { cluster: app } ] }
            clusters:
              - { name: app, backends: [ { address: 127.0.0.1:\(raw.port) } ] }
            """)
        for round in 0..<2 {
            let start = Date()
            let r = try get(proxy.port, "/")
            let elapsed = Date().timeIntervalSince(start)
            #expect(r.status == 502)
            #expect(r.text.contains("too large"))
            #expect(elapsed < 2, "round \(round): 502 after \(elapsed) s")
        }
        // The upstream connection was closed, not pooled: the second request needed a new one.
        #expect(raw.connectionCount == 2)
    }

    @Test func anIdleTunnelClosesAfterClientIdleNotResponse() throws {
        // The demo backend echoes frames, so bytes flow both ways (the old code gave a tunnel
        // `response` as its limit whenever it wrote to the client).
        let b = try backend("app1")
        let proxy = try ProxyFixture.simple([b], top: "timeouts: { client_idle: 1s, response: 4s }")
        let c = try TestClient(port: proxy.port)
        try c.send(
            "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        #expect(try c.readResponse().status == 101)
        // Traffic keeps it open past client_idle...
        for _ in 0..<3 {
            usleep(500_000)
            try c.send([0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58])  // "Hello", masked
            var got: [UInt8] = []
            while got.count < 7 && c.fill() { got += c.drainBuffer() }
            #expect(got == [0x81, 0x05] + Array("Hello".utf8))
        }
        // ...and once quiet, it closes after client_idle (1 s), not after response (4 s).
        let start = Date()
        _ = c.readToEnd()
        let idle = Date().timeIntervalSince(start)
        #expect(idle >= 0.8 && idle < 2.5, "idle tunnel closed after \(idle) s")
    }
}
