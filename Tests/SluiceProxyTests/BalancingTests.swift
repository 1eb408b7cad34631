import Foundation
import Glibc
import SluiceBackend
import Testing

/// The balancing algorithms as a client sees them, through the proxy.
@Suite struct BalancingTests {
    func names(_ r: [TestResponse]) -> [String: Int] {
        r.reduce(into: [:]) { $0[$1.header("X-Backend") ?? "?", default: 0] += 1 }
    }

    @Test func hashOnHeaderKeepsAKeyOnOneBackendAndSpreadsKeys() throws {
        let bs = try ["a", "b", "c"].map { try backend($0) }
        let proxy = try ProxyFixture.simple(bs, cluster: "    balance: hash\n    hash_on: header:X-User")
        let c = try TestClient(port: proxy.port)
        var owner: [Int: String] = [:]
        for round in 0..<3 {
            for user in 0..<60 {
                let r = try c.request("GET / HTTP/1.1\r\nHost: a\r\nx-user: \(user)\r\n\r\n")
                let b = r.header("X-Backend") ?? "?"
                if round == 0 { owner[user] = b } else { #expect(owner[user] == b, "user \(user) moved") }
            }
        }
        #expect(Set(owner.values).count == 3)
    }

    @Test func hashOnCookieFollowsTheCookieAndFallsBackToTheClientAddress() throws {
        let bs = try ["a", "b", "c"].map { try backend($0) }
        let proxy = try ProxyFixture.simple(bs, cluster: "    balance: hash\n    hash_on: cookie:session")
        let c = try TestClient(port: proxy.port)
        var seen = Set<String>()
        for s in 0..<30 {
            let first = try c.request("GET / HTTP/1.1\r\nHost: a\r\nCookie: theme=dark; session=s\(s); x=1\r\n\r\n").header("X-Backend")
            let again = try c.request("GET / HTTP/1.1\r\nHost: a\r\nCookie: session=s\(s)\r\n\r\n").header("X-Backend")
            #expect(first == again)
            seen.insert(first ?? "?")
        }
        #expect(seen.count == 3)
        // Without the cookie every request of this client lands on one backend (its address hash).
        let noCookie = try (0..<10).map { _ in try c.request("GET / HTTP/1.1\r\nHost: a\r\n\r\n") }
        #expect(names(noCookie).count == 1)
    }

    @Test func randomFollowsWeights() throws {
        let bs = try ["a", "b"].map { try backend($0) }
        let proxy = try ProxyFixture.simple(bs, cluster: "    balance: random", weights: [3, 1])
        let c = try TestClient(port: proxy.port)
        let counts = names(try (0..<800).map { _ in try c.request("GET / HTTP/1.1\r\nHost: a\r\n\r\n") })
        let share = Double(counts["a"] ?? 0) / 800
        #expect(abs(share - 0.75) < 0.06, "\(counts)")
    }

    @Test func leastRequestSendsLessToTheBusyBackend() throws {
        let slow = try backend("slow", BackendBehavior(delay: 300_000_000))
        let fast = try backend("fast")
        let proxy = try ProxyFixture.simple([slow, fast], cluster: "    balance: least_request")
        var clients: [TestClient] = []
        for _ in 0..<200 {
            let c = try TestClient(port: proxy.port)
            try c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
            clients.append(c)
            usleep(2_000)
        }
        let counts = names(try clients.map { try $0.readResponse() })
        // Two random choices: "slow" wins a draw only against itself once it is busy (~1 in 4,
        // so about 50 of 200 with a standard deviation of 6; round robin would give 100).
        #expect((counts["slow"] ?? 0) < 80, "\(counts)")
        #expect((counts["fast"] ?? 0) + (counts["slow"] ?? 0) == 200)
    }

    @Test func weightsHoldWhileRetriesAndLimitsAreInPlay() throws {
        let bs = try ["a", "b", "c"].map { try backend($0) }
        let gone = try backend("gone")
        gone.stop()  // refuses connections: one pick in ten fails and is retried
        let proxy = try ProxyFixture.simple(
            bs + [gone],
            cluster: """
                    retries: { attempts: 1, on: [connect_failure] }
                    limits: { max_requests_per_backend: 64, max_queue: 64 }
                """, weights: [5, 3, 1, 1])
        let c = try TestClient(port: proxy.port)
        let n = 1000
        let counts = names(try (0..<n).map { _ in try c.request("GET / HTTP/1.1\r\nHost: a\r\n\r\n") })
        // Every request is answered; the tenth that hit "gone" lands on the others by weight, so
        // a:b:c stays 5:3:1 (555.6 : 333.3 : 111.1). Asking "is a backend free?" before a retry
        // must not move the round robin: when it did, the split drifted to 521 : 359 : 120.
        #expect(counts.values.reduce(0, +) == n)
        #expect(counts["gone"] == nil)
        for (name, weight) in [("a", 5.0), ("b", 3.0), ("c", 1.0)] {
            let ideal = Double(n) * weight / 9
            #expect(abs(Double(counts[name] ?? 0) - ideal) <= 8, "\(name): \(counts)")
        }
    }
}
