import DNSTestSupport
import Foundation
import Glibc
import Testing

@testable import SluiceDiscovery

/// `DNSClient` against a real dnsmasq on 127.0.0.1 (see `DNSMasq`).
@Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: DNSMasq.binary)))
struct DNSMasqTests {
    /// Polls `lookup` until `accept` holds or 5 s pass; the last result.
    func poll(
        _ rig: DNSTestRig, _ body: () -> Result<DiscoveryAnswer, DiscoveryError>,
        until accept: (Result<DiscoveryAnswer, DiscoveryError>) -> Bool
    ) -> Result<DiscoveryAnswer, DiscoveryError> {
        let end = Date().addingTimeInterval(5)
        var last = body()
        while !accept(last) && Date() < end {
            usleep(20_000)
            last = body()
        }
        return last
    }

    @Test func aNameInTheHostsFileGivesItsAddressesAndAHostsRewriteChangesThem() throws {
        let dns = try DNSMasq()
        defer { dns.stop() }
        try dns.start(hosts: "10.0.0.2 web.svc.test\n10.0.0.1 web.svc.test\nfd00::5 web.svc.test\n10.9.9.9 other.svc.test\n")
        let rig = try DNSTestRig(resolvers: [dns.address], timeout: 1_000_000_000)
        defer { rig.stop() }
        let first = rig.lookup("web.svc.test", port: 8080)
        #expect(
            (try? first.get().backends.map(\.name)) == ["10.0.0.1:8080", "10.0.0.2:8080", "[fd00::5]:8080"],
            "\(first) \(dns.log)")
        #expect((try? first.get().ttl) == 1_000_000_000, "--local-ttl=1")
        try dns.rewriteHosts("10.0.0.3 web.svc.test\n")
        let after = poll(rig, { rig.lookup("web.svc.test", port: 8080) }) {
            (try? $0.get().backends.map(\.name)) == ["10.0.0.3:8080"]
        }
        #expect((try? after.get().backends.map(\.name)) == ["10.0.0.3:8080"], "\(after) \(dns.log)")
        #expect(rig.inFlight == (0, 0))
    }

    @Test func aRecordSetTooLargeForUDPIsATruncationError() throws {
        let dns = try DNSMasq()
        defer { dns.stop() }
        // 120 A records do not fit in 1232 bytes: dnsmasq sends as many as fit, with TC set.
        try dns.start(hosts: (1...120).map { "10.1.0.\($0) big.svc.test\n" }.joined() + "fd00::1 big.svc.test\n")
        let rig = try DNSTestRig(resolvers: [dns.address], timeout: 1_000_000_000)
        defer { rig.stop() }
        let result = rig.lookup("big.svc.test", port: 80)
        guard case .failure(let e) = result else { Issue.record("expected an error: \(result)"); return }
        #expect(e.message.contains("A query for big.svc.test.: truncated answer: record set too large for UDP"), "\(e)")
        #expect(rig.inFlight == (0, 0))
    }

    @Test func aCNAMEIsFollowedToItsTargetsAddresses() throws {
        let dns = try DNSMasq()
        defer { dns.stop() }
        try dns.start(
            hosts: "10.0.0.7 real.svc.test\n10.0.0.8 real.svc.test\n", cnames: [("alias.svc.test", "real.svc.test")])
        let rig = try DNSTestRig(resolvers: [dns.address], timeout: 1_000_000_000)
        defer { rig.stop() }
        let result = rig.lookup("alias.svc.test", port: 80)
        #expect((try? result.get().backends.map(\.name)) == ["10.0.0.7:80", "10.0.0.8:80"], "\(result) \(dns.log)")
    }

    @Test func anUnknownNameIsAnError() throws {
        let dns = try DNSMasq()
        defer { dns.stop() }
        try dns.start(hosts: "10.0.0.1 web.svc.test\n")
        let rig = try DNSTestRig(resolvers: [dns.address], timeout: 1_000_000_000)
        defer { rig.stop() }
        let result = rig.lookup("nothing.svc.test", port: 80)
        guard case .failure(let e) = result else { Issue.record("expected an error: \(result)"); return }
        #expect(e.message.contains("nothing.svc.test."), "\(e)")
    }

    @Test func srvWithTwoPrioritiesGivesPrimaryAndStandbyTiers() throws {
        let dns = try DNSMasq()
        defer { dns.stop() }
        let name = "_http._tcp.svc.test"
        try dns.start(
            hosts: "10.0.0.1 a.svc.test\n10.0.0.2 b.svc.test\n10.0.0.3 c.svc.test\n10.0.0.4 d.svc.test\n",
            srv: [
                .init(name: name, target: "a.svc.test", port: 8080, priority: 10, weight: 5),
                .init(name: name, target: "b.svc.test", port: 8081, priority: 10, weight: 0),
                .init(name: name, target: "c.svc.test", port: 9000, priority: 20, weight: 2),
                .init(name: name, target: "d.svc.test", port: 9001, priority: 30, weight: 2),
            ])
        let rig = try DNSTestRig(resolvers: [dns.address], timeout: 1_000_000_000)
        defer { rig.stop() }
        let result = rig.srv(name)
        #expect(
            (try? result.get().backends.map(\.description)) == [
                "a.svc.test:8080 (10.0.0.1:8080, weight 5, primary)", "b.svc.test:8081 (10.0.0.2:8081, weight 1, primary)",
                "c.svc.test:9000 (10.0.0.3:9000, weight 2, standby)",
            ], "\(result) \(dns.log)")
        #expect((try? result.get().ttl) == 1_000_000_000)

        // New SRV records need a restart (SIGHUP re-reads hosts files only).
        try dns.restart(srv: [.init(name: name, target: "d.svc.test", port: 7000, priority: 1, weight: 9)])
        let rig2 = try DNSTestRig(resolvers: [dns.address], timeout: 1_000_000_000)
        defer { rig2.stop() }
        let changed = rig2.srv(name)
        #expect((try? changed.get().backends.map(\.description)) == ["d.svc.test:7000 (10.0.0.4:7000, weight 9, primary)"], "\(changed)")
        #expect(rig.inFlight == (0, 0) && rig2.inFlight == (0, 0))
    }

    @Test func anSRVTargetWithoutAnAddressFailsTheAnswer() throws {
        let dns = try DNSMasq()
        defer { dns.stop() }
        let name = "_http._tcp.svc.test"
        try dns.start(
            hosts: "10.0.0.1 a.svc.test\n",
            srv: [
                .init(name: name, target: "a.svc.test", port: 8080, priority: 10, weight: 1),
                .init(name: name, target: "nowhere.svc.test", port: 8080, priority: 10, weight: 1),
            ])
        let rig = try DNSTestRig(resolvers: [dns.address], timeout: 1_000_000_000)
        defer { rig.stop() }
        let result = rig.srv(name)
        guard case .failure(let e) = result else { Issue.record("expected an error: \(result) \(dns.log)"); return }
        #expect(e.message.contains("SRV target nowhere.svc.test."), "\(e)")
        #expect(rig.inFlight == (0, 0))
    }

    @Test func aStoppedDNSMasqIsATimeoutError() throws {
        let dns = try DNSMasq()
        defer { dns.stop() }
        try dns.start(hosts: "10.0.0.1 web.svc.test\n")
        let rig = try DNSTestRig(resolvers: [dns.address], timeout: 300_000_000)
        defer { rig.stop() }
        #expect((try? rig.lookup("web.svc.test", port: 80).get().backends.count) == 1)
        dns.stop()
        let start = Date()
        let result = rig.lookup("web.svc.test", port: 80)
        let elapsed = Date().timeIntervalSince(start)
        guard case .failure(let e) = result else { Issue.record("expected an error: \(result)"); return }
        #expect(e.message.contains("resolver \(dns.address): no answer within 300 ms"), "\(e)")
        #expect(elapsed >= 0.29 && elapsed < 2, "ended after \(elapsed) s")
        #expect(rig.inFlight == (0, 0))
    }
}
