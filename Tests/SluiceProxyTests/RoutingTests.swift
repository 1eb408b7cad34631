import Foundation
import SluiceBackend
import Testing

@Suite struct RoutingTests {
    @Test func fiveThreeOneSplitOver9000RequestsIsWithinTwoPercent() throws {
        let bs = try ["app1", "app2", "app3"].map { try backend($0) }
        let proxy = try ProxyFixture.simple(bs, weights: [5, 3, 1], workers: 2)
        var counts: [String: Int] = [:]
        let total = 9000
        // Several keep-alive connections, so both workers take a share.
        let clients = try (0..<10).map { _ in try TestClient(port: proxy.port) }
        for i in 0..<total {
            let r = try clients[i % clients.count].request("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
            counts[r.header("X-Backend") ?? "?", default: 0] += 1
        }
        for (name, weight) in [("app1", 5.0), ("app2", 3.0), ("app3", 1.0)] {
            let share = Double(counts[name] ?? 0) / Double(total)
            #expect(abs(share - weight / 9) <= 0.02, "\(name): \(share)")
        }
    }

    @Test func hostAndPrefixRoutesFirstMatchWinsAndSplitIsWeighted() throws {
        let api = try backend("api")
        let app = try backend("app")
        let canary = try backend("canary")
        let proxy = try ProxyFixture(
            """
            workers: 1
            access_log: { path: off }
            listeners:
              - name: web
                listen: 127.0.0.1:0
                routes:
                  - { match: { host: api.store.example, path_prefix: /v1/ }, cluster: api }
                  - { match: { host: "*.store.example" }, cluster: api }
                  - match: { path_prefix: / }
                    split:
                      - { cluster: app, weight: 95 }
                      - { cluster: app-canary, weight: 5 }
            clusters:
              - { name: api, backends: [ { name: api, address: 127.0.0.1:\(api.port) } ] }
              - { name: app, backends: [ { name: app, address: 127.0.0.1:\(app.port) } ] }
              - { name: app-canary, backends: [ { name: canary, address: 127.0.0.1:\(canary.port) } ] }
            """)
        let c = try TestClient(port: proxy.port)
        #expect(try c.request("GET /v1/x HTTP/1.1\r\nHost: api.store.example\r\n\r\n").header("X-Backend") == "api")
        #expect(try c.request("GET /x HTTP/1.1\r\nHost: www.store.example\r\n\r\n").header("X-Backend") == "api")
        var counts: [String: Int] = [:]
        for _ in 0..<200 {
            counts[try c.request("GET /v2 HTTP/1.1\r\nHost: shop.example\r\n\r\n").header("X-Backend") ?? "?", default: 0] += 1
        }
        #expect(counts["app"] == 190)
        #expect(counts["canary"] == 10)
    }
}
