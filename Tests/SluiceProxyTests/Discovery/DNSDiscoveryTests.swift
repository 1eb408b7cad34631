import DNSTestSupport
import Foundation
import Glibc
import SluiceBackend
import Testing

/// `discovery.dns` and `discovery.srv` through the real binary against a real dnsmasq on
/// 127.0.0.1 that the test starts and rewrites: a server added to DNS takes traffic within a
/// refresh and a health check, one removed drains with no client error, a dead DNS server
/// keeps the set, `max_removed` paces a large removal, and SRV priorities are tiers with
/// failover between them. Backends are on 127.0.0.1 and [::1] (A and AAAA records on one
/// port) or on ports of 127.0.0.1 (SRV).
@Suite(.serialized) struct DNSDiscoveryTests {
    func sluice(_ discovery: String, dns: DNSMasq, extra: String = "") throws -> SluiceProcess {
        try SluiceProcess(
            yaml: """
                workers: 2
                access_log: { path: off }
                listeners:
                  - { name: web, listen: 127.0.0.1:0, routes: [ { cluster: app } ] }
                clusters:
                  - name: app
                    health_check: { path: /health, interval: 200ms, timeout: 150ms, rise: 1, fall: 1 }
                    discovery: { \(discovery), refresh: 1s, resolvers: [127.0.0.1:\(dns.port)] }
                \(extra)
                """)
    }

    @Test func aServerAddedToDNSJoinsAndOneRemovedDrainsWhileADeadServerKeepsTheSet() throws {
        // Two servers on one port: 127.0.0.1 (an A record) and [::1] (AAAA).
        let v4 = DemoBackend(name: "v4")
        let port = try v4.start()
        let v6 = DemoBackend(name: "v6", host: "[::1]")
        try v6.start(port: port)
        defer {
            v4.stop()
            v6.stop()
        }
        let dns = try DNSMasq()
        try dns.start(hosts: "127.0.0.1 app.test\n")
        defer { dns.stop() }
        let s = try sluice("dns: app.test:\(port)", dns: dns)
        defer {
            s.signal(SIGTERM)
            _ = s.waitForExit(timeout: 10)
        }
        let web = try s.port(of: "web")
        let admin = try s.adminPort()
        #expect(DiscoveryRig.until(5) { (try? get(web, "/").header("x-backend")) == "v4" } != nil, "\(s.log)")
        let first = try DiscoveryRig.backends(admin)
        #expect(first.keys.sorted() == ["127.0.0.1:\(port)"])
        #expect(first.values.first?["source"] as? String == "dns")

        // Scale out: the AAAA record appears; traffic within one refresh (1 s, TTL 1) plus a check.
        let load = SteadyLoad(port: web, rate: 200)
        try dns.rewriteHosts("127.0.0.1 app.test\n::1 app.test\n")
        let joined = DiscoveryRig.until(5) { load.served(by: "v6") > 0 }
        #expect(joined != nil && joined! < 2.5, "v6 served after \(joined ?? -1) s")
        // Scale in: the A record goes; v4 drains and leaves, no client error.
        try dns.rewriteHosts("::1 app.test\n")
        let gone = DiscoveryRig.until(6) { try DiscoveryRig.backends(admin)["127.0.0.1:\(port)"] == nil }
        #expect(gone != nil)
        usleep(300_000)
        let before = load.served(by: "v4")
        usleep(500_000)
        #expect(load.served(by: "v4") == before, "nothing reaches a removed backend")

        // The DNS server dies: the set is kept, the errors are counted, nobody notices.
        dns.stop()
        let errors = "sluice_discovery_refreshes_total{cluster=\"app\",result=\"error\"}"
        #expect(DiscoveryRig.until(6) { (try DiscoveryRig.metric(admin, errors) ?? 0) >= 2 } != nil)
        usleep(1_000_000)
        load.stop()
        #expect(load.errorList.isEmpty, "\(load.errorList.prefix(5))")
        #expect(try DiscoveryRig.backends(admin).keys.sorted() == ["[::1]:\(port)"])
        #expect(s.log.contains("discovery failed, keeping the last known backends"))
        print("dns: v6 served \(joined ?? -1) s after its record was added; removal took \(gone ?? -1) s; \(load.ok) answers, 0 errors")
    }

    @Test func srvPrioritiesAreTiersWithFailoverAndMaxRemovedPacesARemoval() throws {
        let primaries = try (0..<4).map { try backend("p\($0)") }
        let standby = try backend("s0")
        let dns = try DNSMasq()
        func records(_ ps: [Int]) -> [DNSMasq.SRV] {
            ps.map {
                DNSMasq.SRV(name: "_http._tcp.app.test", target: "p\($0).app.test", port: primaries[$0].port, priority: 10, weight: 5)
            }
                + [DNSMasq.SRV(name: "_http._tcp.app.test", target: "s0.app.test", port: standby.port, priority: 20, weight: 1)]
        }
        let hosts = (0..<4).map { "127.0.0.1 p\($0).app.test" }.joined(separator: "\n") + "\n127.0.0.1 s0.app.test\n"
        try dns.start(hosts: hosts, srv: records([0, 1, 2, 3]))
        defer { dns.stop() }
        let s = try sluice("srv: _http._tcp.app.test", dns: dns)
        defer {
            s.signal(SIGTERM)
            _ = s.waitForExit(timeout: 10)
        }
        let web = try s.port(of: "web")
        let admin = try s.adminPort()
        #expect(DiscoveryRig.until(5) { try DiscoveryRig.backends(admin).count == 5 } != nil, "\(s.log)")
        let all = try DiscoveryRig.backends(admin)
        #expect(all["s0.app.test:\(standby.port)"]?["tier"] as? String == "standby")
        #expect(all["p0.app.test:\(primaries[0].port)"]?["tier"] as? String == "primary")
        #expect(all["p0.app.test:\(primaries[0].port)"]?["weight"] as? Int == 5)
        _ = DiscoveryRig.until(3) { try DiscoveryRig.backends(admin).values.allSatisfy { $0["state"] as? String == "healthy" } }
        for _ in 0..<20 { #expect(try get(web, "/").header("x-backend")?.hasPrefix("p") == true, "primaries serve") }
        // Every primary fails its checks: the standby tier takes over.
        for p in primaries {
            var sick = p.behavior
            sick.healthy = false
            p.behavior = sick
        }
        #expect(DiscoveryRig.until(3) { try get(web, "/").header("x-backend") == "s0" } != nil, "failover to the SRV standby")
        for p in primaries {
            var well = p.behavior
            well.healthy = true
            p.behavior = well
        }
        #expect(DiscoveryRig.until(3) { try get(web, "/").header("x-backend")?.hasPrefix("p") == true } != nil, "failback")

        // 3 of the 4 primaries vanish from DNS at once: 2 go (50% of 4), then 1 (50% of 2).
        try dns.restart(srv: records([0]))
        func draining() throws -> Int { try DiscoveryRig.backends(admin).values.filter { $0["state"] as? String == "draining" }.count }
        #expect(DiscoveryRig.until(4) { try draining() > 0 } != nil)
        // One refresh drained exactly two (the third a refresh later, a second on).
        let firstCut = try DiscoveryRig.backends(admin)
        #expect(firstCut.values.filter { $0["state"] as? String == "draining" }.count == 2, "\(firstCut)")
        #expect(DiscoveryRig.until(5) { try DiscoveryRig.backends(admin).count == 2 } != nil)
        #expect(s.log.contains("max_removed"))
        #expect(try DiscoveryRig.backends(admin).keys.sorted() == ["p0.app.test:\(primaries[0].port)", "s0.app.test:\(standby.port)"])
    }
}
