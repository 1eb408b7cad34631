import Foundation
import Testing

@testable import SluiceDiscovery

@Suite struct DNSResolvConfTests {
    @Test func nameserverLinesGiveAddressesOnPort53InOrder() {
        let text = """
            # generated
            search example.com corp
            nameserver 10.0.0.53
            nameserver   2001:db8::53   # v6
            ;nameserver 10.9.9.9
            nameserver not-an-ip
            options ndots:5
            nameserver\t192.0.2.1
            nameserver 192.0.2.2
            """
        #expect(ResolvConf.parse(text).map(\.description) == ["10.0.0.53:53", "[2001:db8::53]:53", "192.0.2.1:53"])
        #expect(ResolvConf.parse("").isEmpty)
        #expect(ResolvConf.parse("nameserver\n").isEmpty)
    }

    @Test func theSystemFileIsReadAndAMissingOneMeansLocalhost() throws {
        let path = NSTemporaryDirectory() + "sluice-resolv-\(UInt32.random(in: 0...UInt32.max)).conf"
        try "nameserver 127.0.0.9\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(ResolvConf.system(path: path).map(\.description) == ["127.0.0.9:53"])
        #expect(ResolvConf.system(path: path + ".missing").map(\.description) == ["127.0.0.1:53"])
    }
}

/// The pure step from replies to answers: CNAME limits, SRV tiers.
@Suite struct DNSAnswersTests {
    func record(_ name: String, _ data: DNSRecordData, ttl: UInt32 = 60) -> DNSRecord {
        DNSRecord(name: name, ttl: ttl, data: data)
    }

    @Test func aCNAMEChainOfEightIsFollowedNineIsAnError() {
        func chain(_ n: Int) -> [DNSRecord] {
            (0..<n).map { record("c\($0).x.", .cname("c\($0 + 1).x."), ttl: UInt32(100 - $0)) } + [
                record("c\(n).x.", .a([1, 2, 3, 4]), ttl: 200)
            ]
        }
        let eight = DNSAnswers.addresses(of: "c0.x.", type: .a, in: chain(8), label: "A query for c0.x.")
        #expect((try? eight.get()) == DNSAnswers.Addresses(bytes: [[1, 2, 3, 4]], ttl: 93))
        let nine = DNSAnswers.addresses(of: "c0.x.", type: .a, in: chain(9), label: "A query for c0.x.")
        #expect(throws: DiscoveryError.self) { try nine.get() }
        let loop = [record("a.x.", .cname("b.x.")), record("b.x.", .cname("a.x."))]
        #expect(throws: DiscoveryError.self) { try DNSAnswers.addresses(of: "a.x.", type: .a, in: loop, label: "q").get() }
    }

    @Test func srvPrioritiesBeyondTheSecondAreIgnoredAndDuplicatesKeptOnce() throws {
        let reply = DNSReply(
            id: 1, rcode: .noError, truncated: false, authoritative: false,
            answers: [
                record("s.", .srv(priority: 5, weight: 1, port: 80, target: "a."), ttl: 30),
                record("s.", .srv(priority: 1, weight: 0, port: 80, target: "b."), ttl: 40),
                record("s.", .srv(priority: 5, weight: 1, port: 80, target: "b."), ttl: 20),
                record("s.", .srv(priority: 9, weight: 1, port: 80, target: "c."), ttl: 1),
            ], additional: [])
        let (targets, ttl) = try DNSAnswers.srvTargets(name: "s.", reply: reply, label: "SRV query for s.").get()
        #expect(targets.map(\.name) == ["b:80", "a:80"])
        #expect(targets.map(\.tier) == [.primary, .standby])
        #expect(targets.map(\.weight) == [1, 1])
        #expect(ttl == 30)
        let dot = DNSReply(
            id: 1, rcode: .noError, truncated: false, authoritative: false,
            answers: [record("s.", .srv(priority: 0, weight: 0, port: 80, target: "."))], additional: [])
        #expect(throws: DiscoveryError.self) { try DNSAnswers.srvTargets(name: "s.", reply: dot, label: "q").get() }
    }
}
