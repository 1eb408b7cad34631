import Foundation
import SluiceSystem
import Testing

@testable import SluiceDiscovery

/// `DNSClient` against fake resolvers on 127.0.0.1 that answer crafted bytes.
@Suite struct DNSClientTests {
    typealias W = DNSWire

    /// The question type of one of our queries.
    static func qtype(_ q: [UInt8]) -> UInt16 { UInt16(q[q.count - 15]) << 8 | UInt16(q[q.count - 14]) }

    /// Answers A with `v4` (and AAAA with no data) for any name.
    static func answering(_ v4: [[UInt8]], ttl: UInt32 = 30) -> @Sendable ([UInt8]) -> [[UInt8]] {
        { q in
            Self.qtype(q) == 1 ? [W.reply(to: q, answers: v4.map { W.a(W.questionPointer, $0, ttl: ttl) })] : [W.reply(to: q)]
        }
    }

    @Test func aStrayReplyWithAnotherIDIsDroppedAndTheRightOneAccepted() throws {
        let server = try FakeDNSServer { q in
            let good = Self.qtype(q) == 1 ? W.reply(to: q, answers: [W.a(W.questionPointer, [10, 0, 0, 2], ttl: 7)]) : W.reply(to: q)
            return [W.reply(to: q, answers: [W.a(W.questionPointer, [6, 6, 6, 6])], id: W.id(q) &+ 1), Array("garbage".utf8), good]
        }
        defer { server.stop() }
        let rig = try DNSTestRig(resolvers: [server.address])
        defer { rig.stop() }
        let answer = try rig.lookup("api.example.com", port: 8080).get()
        #expect(answer.backends.map(\.name) == ["10.0.0.2:8080"])
        #expect(answer.backends.first?.tier == .primary && answer.backends.first?.weight == 1)
        #expect(answer.ttl == 7_000_000_000)
        #expect(rig.dropped == 4)  // two per question
        #expect(rig.inFlight == (0, 0))
    }

    @Test func addressesAreSortedDeduplicatedAndFollowCNAMEs() throws {
        let server = try FakeDNSServer { q in
            let web = W.name("web.example.com")
            if Self.qtype(q) == 1 {
                return [
                    W.reply(
                        to: q,
                        answers: [
                            W.cname(W.questionPointer, "web.example.com", ttl: 5), W.a(web, [10, 0, 0, 9], ttl: 60),
                            W.a(web, [10, 0, 0, 10], ttl: 60), W.a(web, [10, 0, 0, 9], ttl: 60),
                            W.a(W.name("other.example.com"), [1, 1, 1, 1]),
                        ])
                ]
            }
            return [
                W.reply(
                    to: q,
                    answers: [
                        W.cname(W.questionPointer, "web.example.com", ttl: 5), W.aaaa(web, [0xFD] + Array(repeating: 0, count: 14) + [1]),
                    ])
            ]
        }
        defer { server.stop() }
        let rig = try DNSTestRig(resolvers: [server.address])
        defer { rig.stop() }
        let answer = try rig.lookup("API.example.com.", port: 80).get()
        #expect(answer.backends.map(\.name) == ["10.0.0.10:80", "10.0.0.9:80", "[fd00::1]:80"])
        #expect(answer.ttl == 5_000_000_000)
    }

    @Test func garbageOnlyEndsInATimeoutErrorAfterTheTimeout() throws {
        let server = try FakeDNSServer { _ in [Array("not dns at all".utf8), [0xFF, 0xFF]] }
        defer { server.stop() }
        let rig = try DNSTestRig(resolvers: [server.address], timeout: 300_000_000)
        defer { rig.stop() }
        let start = Date()
        let result = rig.lookup("api.example.com", port: 80)
        let elapsed = Date().timeIntervalSince(start)
        guard case .failure(let e) = result else { Issue.record("expected an error, got \(result)"); return }
        #expect(e.message.contains("query for api.example.com."))
        #expect(e.message.contains("resolver \(server.address): no answer within 300 ms"))
        #expect(elapsed >= 0.29 && elapsed < 2, "ended after \(elapsed) s")
        #expect(rig.inFlight == (0, 0))
    }

    @Test func servfailFromTheFirstResolverAsksTheSecond() throws {
        let failing = try FakeDNSServer { q in [W.reply(to: q, flags: 0x8182)] }
        defer { failing.stop() }
        let good = try FakeDNSServer(Self.answering([[192, 0, 2, 1]]))
        defer { good.stop() }
        let rig = try DNSTestRig(resolvers: [failing.address, good.address])
        defer { rig.stop() }
        #expect(try rig.lookup("api.example.com", port: 443).get().backends.map(\.name) == ["192.0.2.1:443"])
        #expect(failing.queries.count == 2 && good.queries.count == 2)
        // Each try has its own random id (equal by chance 1 in 65536, so compare all four).
        let ids = Set((failing.queries + good.queries).map(W.id))
        #expect(ids.count >= 3)
    }

    @Test func refusedEverywhereIsAnErrorNamingEachResolver() throws {
        let a = try FakeDNSServer { q in [W.reply(to: q, flags: 0x8185)] }
        defer { a.stop() }
        let b = try FakeDNSServer { q in [W.reply(to: q, flags: 0x8182)] }
        defer { b.stop() }
        let rig = try DNSTestRig(resolvers: [a.address, b.address])
        defer { rig.stop() }
        let result = rig.lookup("api.example.com", port: 80)
        guard case .failure(let e) = result else { Issue.record("expected an error, got \(result)"); return }
        #expect(e.message.contains("resolver \(a.address) answered REFUSED"))
        #expect(e.message.contains("resolver \(b.address) answered SERVFAIL"))
    }

    @Test func aTruncatedReplyIsAnError() throws {
        let server = try FakeDNSServer { q in [W.reply(to: q, flags: 0x8380)] }
        defer { server.stop() }
        let rig = try DNSTestRig(resolvers: [server.address])
        defer { rig.stop() }
        let result = rig.lookup("api.example.com", port: 80)
        guard case .failure(let e) = result else { Issue.record("expected an error, got \(result)"); return }
        #expect(e.message.contains("truncated answer: record set too large for UDP, TCP is not supported"))
        #expect(rig.inFlight == (0, 0))
    }

    @Test func nxdomainAndNoDataAreErrorsButAnEmptyAAAAIsFine() throws {
        let nx = try FakeDNSServer { q in [W.reply(to: q, flags: 0x8183)] }
        defer { nx.stop() }
        let empty = try FakeDNSServer { q in [W.reply(to: q)] }
        defer { empty.stop() }
        let rig = try DNSTestRig(resolvers: [nx.address])
        defer { rig.stop() }
        guard case .failure(let e) = rig.lookup("gone.example.com", port: 80) else { Issue.record("NXDOMAIN accepted"); return }
        #expect(e.message.contains("NXDOMAIN") && e.message.contains("gone.example.com."))
        #expect(nx.queries.count == 2, "NXDOMAIN is final: the one resolver was asked A and AAAA once")
        let rig2 = try DNSTestRig(resolvers: [empty.address])
        defer { rig2.stop() }
        guard case .failure(let e2) = rig2.lookup("empty.example.com", port: 80) else { Issue.record("no data accepted"); return }
        #expect(e2.message.contains("no A or AAAA records"))
    }

    @Test func srvGivesPrimaryAndStandbyTiersWithAddressesFromTheAdditionalSection() throws {
        let server = try FakeDNSServer { q in
            guard Self.qtype(q) == 33 else { return [W.reply(to: q, flags: 0x8183)] }
            return [
                W.reply(
                    to: q,
                    answers: [
                        W.srv(W.questionPointer, priority: 10, weight: 0, port: 8080, target: "a.svc", ttl: 40),
                        W.srv(W.questionPointer, priority: 10, weight: 5, port: 8081, target: "b.svc", ttl: 40),
                        W.srv(W.questionPointer, priority: 20, weight: 3, port: 9000, target: "c.svc", ttl: 40),
                        W.srv(W.questionPointer, priority: 30, weight: 3, port: 9000, target: "d.svc", ttl: 1),
                    ],
                    additional: [
                        W.a(W.name("a.svc"), [10, 0, 0, 3], ttl: 50), W.a(W.name("a.svc"), [10, 0, 0, 1], ttl: 50),
                        W.a(W.name("b.svc"), [10, 0, 0, 2], ttl: 9), W.aaaa(W.name("c.svc"), [0xFD] + Array(repeating: 0, count: 14) + [3]),
                        W.opt(),
                    ])
            ]
        }
        defer { server.stop() }
        let rig = try DNSTestRig(resolvers: [server.address])
        defer { rig.stop() }
        let answer = try rig.srv("_http._tcp.svc").get()
        #expect(
            answer.backends.map(\.description) == [
                "a.svc:8080 (10.0.0.1:8080, weight 1, primary)", "b.svc:8081 (10.0.0.2:8081, weight 5, primary)",
                "c.svc:9000 ([fd00::3]:9000, weight 3, standby)",
            ])
        #expect(answer.ttl == 9_000_000_000)
        #expect(server.queries.count == 1, "no A/AAAA questions when the additional section has the addresses")
        #expect(rig.inFlight == (0, 0))
    }

    @Test func srvTargetsWithoutAdditionalRecordsAreLookedUpAndOneFailingFailsAll() throws {
        let server = try FakeDNSServer { q in
            let name = String(decoding: W.question(of: q).dropLast(4), as: UTF8.self)
            switch Self.qtype(q) {
            case 33:
                return [
                    W.reply(
                        to: q,
                        answers: [
                            W.srv(W.questionPointer, priority: 1, weight: 2, port: 80, target: "x.svc"),
                            W.srv(
                                W.questionPointer, priority: 1, weight: 2, port: 81, target: name.contains("broken") ? "gone.svc" : "x.svc"),
                        ])
                ]
            case 1 where name.contains("x"):
                return [
                    W.reply(
                        to: q, answers: [W.a(W.questionPointer, [10, 1, 1, 2], ttl: 3), W.a(W.questionPointer, [10, 1, 1, 1], ttl: 3)])
                ]
            case 1: return [W.reply(to: q, flags: 0x8183)]
            default: return [W.reply(to: q)]
            }
        }
        defer { server.stop() }
        let rig = try DNSTestRig(resolvers: [server.address])
        defer { rig.stop() }
        let answer = try rig.srv("_http._tcp.ok").get()
        #expect(
            answer.backends.map(\.description) == [
                "x.svc:80 (10.1.1.1:80, weight 2, primary)", "x.svc:81 (10.1.1.1:81, weight 2, primary)",
            ])
        #expect(answer.ttl == 3_000_000_000)
        #expect(server.queries.count == 3, "one SRV question, then A and AAAA once for the shared target")
        guard case .failure(let e) = rig.srv("_http._tcp.broken") else { Issue.record("a target without an address was accepted"); return }
        #expect(e.message.contains("SRV target gone.svc. does not resolve") && e.message.contains("NXDOMAIN"))
        #expect(rig.inFlight == (0, 0))
    }

    @Test func aSilentResolverIsSkippedAfterTheTimeout() throws {
        let silent = try FakeDNSServer { _ in [] }
        defer { silent.stop() }
        let good = try FakeDNSServer(Self.answering([[192, 0, 2, 7]]))
        defer { good.stop() }
        let rig = try DNSTestRig(resolvers: [silent.address, good.address], timeout: 200_000_000)
        defer { rig.stop() }
        let start = Date()
        #expect(try rig.lookup("api.example.com", port: 80).get().backends.map(\.name) == ["192.0.2.7:80"])
        #expect(Date().timeIntervalSince(start) >= 0.19)
    }

    @Test func nothingLeaksAfterManyLookups() throws {
        let server = try FakeDNSServer { q in
            // Every other query gets only garbage, so half the questions time out.
            W.id(q) % 2 == 0 ? [W.reply(to: q, answers: Self.qtype(q) == 1 ? [W.a(W.questionPointer, [10, 0, 0, 1])] : [])] : [[1, 2, 3]]
        }
        defer { server.stop() }
        let rig = try DNSTestRig(resolvers: [server.address], timeout: 50_000_000)
        defer { rig.stop() }
        var ok = 0
        for i in 0..<40 {
            if case .success = rig.lookup("n\(i).example.com", port: 80) { ok += 1 }
        }
        #expect(ok > 0 && ok < 40)
        #expect(rig.inFlight == (0, 0))
        #expect(DNSTestRig.socketsConnected(to: server.port) == 0)
    }

    @Test func aLookupInFlightHoldsOneSocketAndOneTimerPerQuestionAndReleasesThem() throws {
        let silent = try FakeDNSServer { _ in [] }
        defer { silent.stop() }
        let rig = try DNSTestRig(resolvers: [silent.address], timeout: 500_000_000)
        defer { rig.stop() }
        let box = DNSTestRig.Box<Result<DiscoveryAnswer, DiscoveryError>>()
        rig.onLoop { [client = rig.client!] in
            client.lookup(host: "slow.example.com", port: 80) {
                box.value = $0; box.done.signal()
            }
        }
        let end = Date().addingTimeInterval(2)
        while silent.queries.count < 2 && Date() < end { usleep(5_000) }
        #expect(rig.inFlight == (2, 2))
        #expect(DNSTestRig.socketsConnected(to: silent.port) == 2)
        #expect(box.done.wait(timeout: .now() + 5) == .success)
        #expect(rig.inFlight == (0, 0))
        #expect(DNSTestRig.socketsConnected(to: silent.port) == 0)
    }

    @Test func badInputIsAnErrorLaterNotATrap() throws {
        let rig = try DNSTestRig(resolvers: [])
        defer { rig.stop() }
        guard case .failure(let e) = rig.lookup("a..b", port: 80) else { Issue.record("bad name accepted"); return }
        #expect(e.message.contains("empty label"))
        guard case .failure(let e2) = rig.lookup("ok.example", port: 0) else { Issue.record("port 0 accepted"); return }
        #expect(e2.message.contains("port 0"))
        guard case .failure(let e3) = rig.srv("ok.example") else { Issue.record("no resolvers accepted"); return }
        #expect(e3.message.contains("no resolvers configured"))
        #expect(rig.inFlight == (0, 0))
    }
}
