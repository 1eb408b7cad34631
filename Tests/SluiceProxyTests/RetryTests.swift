import Foundation
import Glibc
import SluiceBackend
import Testing

/// Retries (DESIGN §2 `retries`): only what is safe to resend, on another backend.
@Suite struct RetryTests {
    func run(_ port: Int, _ n: Int, _ request: String) throws -> [Int] {
        var out: [Int] = []
        for _ in 0..<n {
            let c = try TestClient(port: port)
            out.append(try c.request(request).status)
        }
        return out
    }

    @Test func aRefusedConnectionIsRetriedOnAnotherBackendEvenForPost() throws {
        let good = try backend("good")
        let gone = try backend("gone")
        gone.stop()
        let proxy = try ProxyFixture.simple([good, gone], cluster: "    retries: { attempts: 1 }")
        let s = try run(proxy.port, 10, "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello")
        #expect(s.allSatisfy { $0 == 200 }, "\(s)")
    }

    @Test func a503IsRetriedForGetButNotForPost() throws {
        let good = try backend("good")
        let busy = try backend("busy", BackendBehavior(status: 503))
        let proxy = try ProxyFixture.simple([good, busy], cluster: "    retries: { attempts: 2, on: [503] }")
        #expect(try run(proxy.port, 10, "GET / HTTP/1.1\r\nHost: a\r\n\r\n").allSatisfy { $0 == 200 })
        let posts = try run(proxy.port, 10, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nx")
        #expect(posts.contains(503), "\(posts)")
        #expect(posts.contains(200))
    }

    @Test func aResetBeforeTheAnswerIsRetriedForIdempotentRequests() throws {
        let good = try backend("good")
        let raw = try RawBackend(reply: "", closeAfter: true)
        let proxy = try ProxyFixture(
            """
            workers: 1
            access_log: { path: off }
            listeners:
              - { name: web, listen: 127.0.0.1:0, routes: [ { cluster: app } ] }
            clusters:
              - name: app
                backends:
                  - { name: good, address: 127.0.0.1:\(good.port) }
                  - { name: reset, address: 127.0.0.1:\(raw.port) }
                retries: { attempts: 1, on: [reset_before_response] }
            """)
        #expect(try run(proxy.port, 10, "GET / HTTP/1.1\r\nHost: a\r\n\r\n").allSatisfy { $0 == 200 })
        #expect(try run(proxy.port, 10, "DELETE /x HTTP/1.1\r\nHost: a\r\n\r\n").allSatisfy { $0 == 200 })
    }

    @Test func withoutRetriesTheFailureReachesTheClient() throws {
        let good = try backend("good")
        let busy = try backend("busy", BackendBehavior(status: 503))
        let proxy = try ProxyFixture.simple([good, busy])
        #expect(try run(proxy.port, 10, "GET / HTTP/1.1\r\nHost: a\r\n\r\n").filter { $0 == 503 }.count == 5)
    }
}
