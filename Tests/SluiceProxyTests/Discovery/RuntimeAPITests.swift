import Foundation
import Glibc
import SluiceBackend
import Testing

/// `POST /clusters/C/backends` and `DELETE /clusters/C/backends/B` through the real binary:
/// the token applies, an added backend joins after its first passing check, a deleted one
/// drains without a client error, and a reload keeps runtime backends unless the file names
/// the same backend differently.
@Suite(.serialized) struct RuntimeAPITests {
    let token = "s3cret-\(UInt32.random(in: 0...UInt32.max))"

    func start(_ configured: DemoBackend, tokenFile: String, extra: String = "") throws -> SluiceProcess {
        try token.write(toFile: tokenFile, atomically: true, encoding: .utf8)
        return try SluiceProcess(
            yaml: """
                workers: 2
                access_log: { path: off }
                admin: { listen: 127.0.0.1:0, token_file: \(tokenFile) }
                listeners:
                  - { name: web, listen: 127.0.0.1:0, routes: [ { cluster: app } ] }
                clusters:
                  - name: app
                    health_check: { path: /health, interval: 200ms, timeout: 150ms, rise: 1, fall: 1 }
                    backends:
                      - { name: app1, address: 127.0.0.1:\(configured.port) }
                \(extra)
                """)
    }

    @Test func addedBackendsJoinAfterACheckAndDeletedOnesDrain() throws {
        let app1 = try backend("app1")
        let app2 = try backend("app2", BackendBehavior(healthy: false))
        let tokenFile = NSTemporaryDirectory() + "sluice-token-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: tokenFile) }
        let sluice = try start(app1, tokenFile: tokenFile)
        defer {
            sluice.signal(SIGTERM)
            _ = sluice.waitForExit(timeout: 10)
        }
        let port = try sluice.port(of: "web")
        let admin = try sluice.adminPort()
        let body = "{\"name\": \"app2\", \"address\": \"127.0.0.1:\(app2.port)\", \"weight\": 2}"

        #expect(try DiscoveryRig.call(admin, "POST", "/clusters/app/backends", body: body).status == 401, "the token applies")
        #expect(try DiscoveryRig.call(admin, "POST", "/clusters/nope/backends", body: body, token: token).status == 404)
        for bad in [
            "", "{}", "{\"address\": \"app2.internal:80\"}", "{\"address\": \"127.0.0.1:80\", \"weight\": -1}",
            "{\"address\": \"127.0.0.1:80\", \"tier\": \"gold\"}", "{\"address\": \"127.0.0.1:80\", \"colour\": 1}", "[1]",
        ] {
            let r = try DiscoveryRig.call(admin, "POST", "/clusters/app/backends", body: bad, token: token)
            #expect(r.status == 400, "\(bad) → \(r.status)")
        }
        #expect(try DiscoveryRig.call(admin, "GET", "/clusters/app/backends").status == 405)
        let added = try DiscoveryRig.call(admin, "POST", "/clusters/app/backends", body: body, token: token)
        #expect(added.status == 201, "\(String(decoding: added.body, as: UTF8.self))")
        #expect(String(decoding: added.body, as: UTF8.self).contains("\"state\": \"unhealthy\""))
        let again = try DiscoveryRig.call(admin, "POST", "/clusters/app/backends", body: body, token: token)
        #expect(again.status == 200, "the same backend again changes nothing")
        let clash = "{\"name\": \"app2\", \"address\": \"127.0.0.1:1\"}"
        #expect(try DiscoveryRig.call(admin, "POST", "/clusters/app/backends", body: clash, token: token).status == 409)
        let taken = "{\"name\": \"app1\", \"address\": \"127.0.0.1:1\"}"
        #expect(try DiscoveryRig.call(admin, "POST", "/clusters/app/backends", body: taken, token: token).status == 409)

        let status = try DiscoveryRig.backends(admin)
        #expect(status["app2"]?["source"] as? String == "api")
        #expect(status["app1"]?["source"] as? String == "config")
        for _ in 0..<30 { #expect(try get(port, "/").header("x-backend") == "app1") }
        #expect(app2.ordinaryRequests == 0, "nothing before its first passing check")
        var well = app2.behavior
        well.healthy = true
        app2.behavior = well
        #expect(DiscoveryRig.until(3) { try get(port, "/").header("x-backend") == "app2" } != nil)

        // DELETE under load: drained, then gone; no client error.
        let load = SteadyLoad(port: port, rate: 200)
        usleep(400_000)
        #expect(try DiscoveryRig.call(admin, "DELETE", "/clusters/app/backends/app2").status == 401)
        #expect(try DiscoveryRig.call(admin, "DELETE", "/clusters/app/backends/nope", token: token).status == 404)
        #expect(try DiscoveryRig.call(admin, "DELETE", "/clusters/app/backends/app2", token: token).status == 200)
        let gone = DiscoveryRig.until(6) { try DiscoveryRig.backends(admin)["app2"] == nil }
        usleep(300_000)
        load.stop()
        #expect(gone != nil)
        #expect(load.errorList.isEmpty, "\(load.errorList.prefix(5))")
        #expect(load.served(by: "app2") > 0 && load.served(by: "app1") > 0)
    }

    @Test func addingPrimariesNeverSpillsToTheStandbyTier() throws {
        let p1 = try backend("p1")
        let s1 = try backend("s1")
        let joining = try (0..<2).map { try backend("j\($0)") }
        let tokenFile = NSTemporaryDirectory() + "sluice-token-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: tokenFile) }
        try token.write(toFile: tokenFile, atomically: true, encoding: .utf8)
        let sluice = try SluiceProcess(
            yaml: """
                workers: 2
                access_log: { path: off }
                admin: { listen: 127.0.0.1:0, token_file: \(tokenFile) }
                listeners:
                  - { name: web, listen: 127.0.0.1:0, routes: [ { cluster: app } ] }
                clusters:
                  - name: app
                    slow_start: 3s
                    health_check: { path: /health, interval: 300ms, timeout: 200ms, rise: 2, fall: 1 }
                    backends: [ { name: p1, address: 127.0.0.1:\(p1.port) } ]
                    standby: [ { name: s1, address: 127.0.0.1:\(s1.port) } ]
                """)
        defer {
            sluice.signal(SIGTERM)
            _ = sluice.waitForExit(timeout: 10)
        }
        let admin = try sluice.adminPort()
        for (i, j) in joining.enumerated() {
            let body = "{\"name\": \"j\(i)\", \"address\": \"127.0.0.1:\(j.port)\"}"
            #expect(try DiscoveryRig.call(admin, "POST", "/clusters/app/backends", body: body, token: token).status == 201)
        }
        // Joining (two checks) and ramping (3 s): the standby share stays 0 all along.
        var shares: [Double] = []
        let end = Date().addingTimeInterval(4.5)
        while Date() < end {
            shares.append(try DiscoveryRig.cluster(admin)["standby_share"] as? Double ?? -1)
            usleep(100_000)
        }
        #expect(shares.allSatisfy { $0 == 0 }, "standby share while primaries joined: \(shares.filter { $0 != 0 })")
        #expect(try DiscoveryRig.backends(admin).values.filter { $0["state"] as? String == "healthy" }.count == 4)
        #expect(!sluice.log.contains("standby tier serving"))
        // Losing the original primary still fails over, by its share of what the primaries
        // are now: 2 of 3 left × 1.4 overprovisioning keeps 93%, so about 7% spills.
        p1.stop()
        #expect(DiscoveryRig.until(3) { (try DiscoveryRig.cluster(admin)["standby_share"] as? Double ?? 0) > 0.05 } != nil)
        let spill = try DiscoveryRig.cluster(admin)["standby_share"] as? Double ?? -1
        #expect(spill > 0.05 && spill < 0.1, "standby share \(spill)")
    }

    @Test func aReloadKeepsRuntimeBackendsUnlessTheFileNamesThemAndBringsBackDeletedOnes() throws {
        let app1 = try backend("app1")
        let app2 = try backend("app2")
        let app3 = try backend("app3")
        let tokenFile = NSTemporaryDirectory() + "sluice-token-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: tokenFile) }
        let sluice = try start(app1, tokenFile: tokenFile)
        defer {
            sluice.signal(SIGTERM)
            _ = sluice.waitForExit(timeout: 10)
        }
        let port = try sluice.port(of: "web")
        let admin = try sluice.adminPort()
        for (name, b) in [("app2", app2), ("app3", app3)] {
            let body = "{\"name\": \"\(name)\", \"address\": \"127.0.0.1:\(b.port)\"}"
            #expect(try DiscoveryRig.call(admin, "POST", "/clusters/app/backends", body: body, token: token).status == 201)
        }
        #expect(DiscoveryRig.until(3) { try DiscoveryRig.backends(admin).values.allSatisfy { $0["state"] as? String == "healthy" } } != nil)
        // The configured backend can be deleted too, until the next reload.
        #expect(try DiscoveryRig.call(admin, "DELETE", "/clusters/app/backends/app1", token: token).status == 200)
        #expect(DiscoveryRig.until(4) { try DiscoveryRig.backends(admin)["app1"] == nil } != nil)

        // The reloaded file names app3 at another address (app1's): the file wins.
        var text = try String(contentsOfFile: sluice.configPath, encoding: .utf8)
        text = text.replacingOccurrences(
            of: "      - { name: app1, address: 127.0.0.1:\(app1.port) }",
            with: "      - { name: app1, address: 127.0.0.1:\(app1.port) }\n      - { name: app3, address: 127.0.0.1:\(app1.port) }")
        try text.write(toFile: sluice.configPath, atomically: true, encoding: .utf8)
        let reload = try DiscoveryRig.call(admin, "POST", "/reload", token: token)
        #expect(reload.status == 200, "\(String(decoding: reload.body, as: UTF8.self))")
        let after = try DiscoveryRig.backends(admin)
        #expect(after.keys.sorted() == ["app1", "app2", "app3"])
        #expect(after["app1"]?["source"] as? String == "config", "a deleted configured backend is back after a reload")
        #expect(after["app2"]?["source"] as? String == "api", "a runtime backend stays across a reload")
        #expect(after["app3"]?["source"] as? String == "config")
        #expect(after["app3"]?["address"] as? String == "127.0.0.1:\(app1.port)")
        _ = DiscoveryRig.until(3) { try DiscoveryRig.backends(admin).values.allSatisfy { $0["state"] as? String == "healthy" } }
        var seen = Set<String>()
        for _ in 0..<30 { seen.insert(try get(port, "/").header("x-backend") ?? "?") }
        #expect(seen == ["app1", "app2"], "app3's old address gets nothing")
    }
}
