import Foundation
import Glibc
import Testing

/// Issue 6.2: an end of stream that arrives with (or right after) the last bytes must be seen on
/// the same wake-up (edge-triggered epoll gives no second edge), in both directions and in
/// tunnels. Each case runs 200 times, with and without the last bytes and the FIN in one
/// segment (TCP_CORK); the `response` and `client_idle` timeouts are long, so a missed close
/// shows as an exchange that takes seconds instead of milliseconds.
@Suite struct CloseDetectionTests {
    static let rounds = 200
    static let top = "timeouts: { response: 3s, client_idle: 3s }"

    static func proxy(_ raw: RawBackend) throws -> ProxyFixture {
        try ProxyFixture(
            """
            workers: 1
            access_log: { path: off }
            \(top)
            listeners:
              - { name: web, listen: 127.0.0.1:0, routes: [ { cluster: app } ] }
            clusters:
              - { name: app, backends: [ { address: 127.0.0.1:\(raw.port) } ] }
            """)
    }

    @Test(arguments: [false, true])
    func closeDelimitedBodyEndsWhenTheBackendCloses(cork: Bool) throws {
        let raw = try RawBackend(reply: "HTTP/1.1 200 OK\r\n\r\nhello", closeAfter: true, cork: cork)
        let proxy = try Self.proxy(raw)
        for round in 0..<Self.rounds {
            let start = Date()
            let c = try TestClient(port: proxy.port)
            let r = try c.request("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
            let elapsed = Date().timeIntervalSince(start)
            #expect(r.status == 200)
            #expect(r.complete && r.text == "hello", "round \(round): \(r.text)")
            #expect(elapsed < 1, "round \(round) took \(elapsed) s")
            if !r.complete || elapsed >= 1 { break }
        }
    }

    @Test(arguments: [false, true])
    func backendDyingMidBodyCutsTheClientAtOnce(cork: Bool) throws {
        let raw = try RawBackend(reply: "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n7 bytes", closeAfter: true, cork: cork)
        let proxy = try Self.proxy(raw)
        for round in 0..<Self.rounds {
            let start = Date()
            let c = try TestClient(port: proxy.port)
            let r = try c.request("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
            let elapsed = Date().timeIntervalSince(start)
            #expect(r.status == 200)
            #expect(!r.complete, "round \(round): a cut body looked complete")
            #expect(r.text == "7 bytes", "round \(round): \(r.text)")
            #expect(elapsed < 1, "round \(round) took \(elapsed) s")
            if r.complete || elapsed >= 1 { break }
        }
    }

    static let upgrade = "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"

    @Test(arguments: [false, true])
    func tunnelClosedByTheBackendReachesTheClientAtOnce(cork: Bool) throws {
        let raw = try RawBackend(
            reply: "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nbye", closeAfter: true,
            cork: cork)
        let proxy = try Self.proxy(raw)
        for round in 0..<Self.rounds {
            let c = try TestClient(port: proxy.port)
            try c.send(Self.upgrade)
            let start = Date()
            let r = try c.readResponse()
            let rest = c.readToEnd()
            let elapsed = Date().timeIntervalSince(start)
            #expect(r.status == 101)
            #expect(String(decoding: rest, as: UTF8.self) == "bye", "round \(round)")
            #expect(elapsed < 1, "round \(round) took \(elapsed) s")
            if elapsed >= 1 { break }
        }
    }

    @Test(arguments: [false, true])
    func tunnelClosedByTheClientReachesTheBackendAtOnce(cork: Bool) throws {
        let raw = try RawBackend(
            reply: "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", closeAfter: false)
        let proxy = try Self.proxy(raw)
        for round in 0..<Self.rounds {
            let c = try TestClient(port: proxy.port)
            try c.send(Self.upgrade)
            #expect(try c.readResponse().status == 101)
            let before = raw.eofCount
            var on: Int32 = 1
            if cork { setsockopt(c.fd, Int32(IPPROTO_TCP), TCP_CORK, &on, 4) }
            try c.send("last words")
            c.shutdownWrite()
            let start = Date()
            while raw.eofCount == before && Date().timeIntervalSince(start) < 2 { usleep(1000) }
            let elapsed = Date().timeIntervalSince(start)
            #expect(raw.eofCount > before, "round \(round): the backend never saw the close")
            #expect(elapsed < 1, "round \(round) took \(elapsed) s")
            if elapsed >= 1 { break }
        }
    }
}
