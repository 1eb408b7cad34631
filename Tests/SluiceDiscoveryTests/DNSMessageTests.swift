import Testing

@testable import SluiceDiscovery

/// The pure DNS codec: the query we send, and every way a datagram can fail to be its reply.
@Suite struct DNSMessageTests {
    typealias W = DNSWire

    let query = try! DNSMessage.query(id: 0xBEEF, name: "api.Example.com", type: .a)

    func parse(_ bytes: [UInt8], id: UInt16 = 0xBEEF, name: String = "api.example.com", type: DNSType = .a) throws(DNSMessageError)
        -> DNSReply
    {
        try DNSMessage.parseReply(bytes, id: id, name: name, type: type)
    }

    @Test func aQueryHasRDOneQuestionAndAnEDNS0OptOffering1232Bytes() throws {
        let expected: [UInt8] =
            [0xBE, 0xEF, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1]
            + [3] + Array("api".utf8) + [7] + Array("Example".utf8) + [3] + Array("com".utf8) + [0]
            + [0, 1, 0, 1]
            + [0, 0, 41, 0x04, 0xD0, 0, 0, 0, 0, 0, 0]
        #expect(query == expected)
        #expect(try DNSMessage.query(id: 1, name: "api.Example.com.", type: .a) == [0, 1] + expected.dropFirst(2))
        let srv = try DNSMessage.query(id: 7, name: "_http._tcp.svc", type: .srv)
        #expect(Array(srv[(srv.count - 15)..<(srv.count - 11)]) == [0, 33, 0, 1])
    }

    @Test func badNamesCannotBeAsked() {
        #expect(throws: DNSMessageError.self) { try DNSMessage.query(id: 1, name: "a..b", type: .a) }
        #expect(throws: DNSMessageError.self) { try DNSMessage.query(id: 1, name: "", type: .a) }
        #expect(throws: DNSMessageError.self) {
            try DNSMessage.query(id: 1, name: String(repeating: "x", count: 64) + ".com", type: .a)
        }
        let long = Array(repeating: String(repeating: "x", count: 63), count: 4).joined(separator: ".")  // 256 in wire form
        #expect(throws: DNSMessageError.self) { try DNSMessage.query(id: 1, name: long, type: .a) }
        #expect((try? DNSMessage.query(id: 1, name: String(repeating: "x", count: 63) + ".com", type: .a)) != nil)
    }

    @Test func aReplyIsReadWithCompressedNamesAndTTLs() throws {
        let reply = W.reply(
            to: query, flags: 0x8580,
            answers: [
                W.cname(W.questionPointer, "web.example.com", ttl: 60),
                // "web" + a pointer to "example.com" inside the question (offset 12 + 4).
                W.a([3] + Array("web".utf8) + [0xC0, 16], [10, 0, 0, 1], ttl: 30),
                W.record(W.questionPointer, type: 16, data: [3] + Array("txt".utf8)),
            ],
            additional: [W.aaaa(W.name("web.example.com"), Array(repeating: 0, count: 15) + [1], ttl: 20), W.opt()])
        let r = try parse(reply)
        #expect(r.rcode == .noError && !r.truncated && r.authoritative)
        #expect(
            r.answers == [
                DNSRecord(name: "api.example.com.", ttl: 60, data: .cname("web.example.com.")),
                DNSRecord(name: "web.example.com.", ttl: 30, data: .a([10, 0, 0, 1])),
                DNSRecord(name: "api.example.com.", ttl: 300, data: .other(type: 16)),
            ])
        #expect(r.additional == [DNSRecord(name: "web.example.com.", ttl: 20, data: .aaaa(Array(repeating: 0, count: 15) + [1]))])
    }

    @Test func srvRecordsAreRead() throws {
        let q = try DNSMessage.query(id: 9, name: "_http._tcp.svc.local", type: .srv)
        let reply = W.reply(to: q, answers: [W.srv(W.questionPointer, priority: 10, weight: 0, port: 8080, target: "Node1.svc.local")])
        let r = try parse(reply, id: 9, name: "_http._tcp.svc.local", type: .srv)
        #expect(
            r.answers == [
                DNSRecord(
                    name: "_http._tcp.svc.local.", ttl: 300, data: .srv(priority: 10, weight: 0, port: 8080, target: "node1.svc.local."))
            ])
    }

    @Test func aTTLWithTheTopBitSetIsZero() throws {
        let r = try parse(W.reply(to: query, answers: [W.a(W.questionPointer, [1, 2, 3, 4], ttl: 0x8000_0001)]))
        #expect(r.answers.first?.ttl == 0)
    }

    @Test func aReplyWithAnotherIDIsRejected() {
        #expect(throws: DNSMessageError.wrongID(expected: 0xBEEF, got: 0xBEEE)) {
            try parse(W.reply(to: query, answers: [W.a(W.questionPointer, [1, 2, 3, 4])], id: 0xBEEE))
        }
    }

    @Test func aQueryIsNotAReply() {
        #expect(throws: DNSMessageError.notAReply) { try parse(query) }
        #expect(throws: DNSMessageError.notAReply) { try parse(W.reply(to: query, flags: 0x0180)) }
    }

    @Test func anotherOpcodeIsRejected() {
        #expect(throws: DNSMessageError.wrongOpcode(2)) { try parse(W.reply(to: query, flags: 0x9180)) }
    }

    @Test func aReplyToAnotherQuestionIsRejected() throws {
        let other = try DNSMessage.query(id: 0xBEEF, name: "api.example.org", type: .a)
        #expect(throws: DNSMessageError.self) { try parse(W.reply(to: other)) }
        let aaaa = try DNSMessage.query(id: 0xBEEF, name: "api.example.com", type: .aaaa)
        #expect(throws: DNSMessageError.questionMismatch(name: "api.example.com.", type: 28, class: 1)) {
            try parse(W.reply(to: aaaa))
        }
        var chaos = W.reply(to: query)
        chaos[chaos.count - 1] = 3
        #expect(throws: DNSMessageError.questionMismatch(name: "api.example.com.", type: 1, class: 3)) { try parse(chaos) }
        var none = W.reply(to: query)
        none[5] = 0
        #expect(throws: DNSMessageError.questionCount(0)) { try parse(none) }
        // The case of the name does not matter (RFC 4343).
        let upper = try DNSMessage.query(id: 0xBEEF, name: "API.EXAMPLE.COM", type: .a)
        #expect((try? parse(W.reply(to: upper))) != nil)
    }

    @Test func everyPrefixOfAValidReplyIsAnErrorNotATrap() throws {
        let reply = W.reply(
            to: query,
            answers: [W.cname(W.questionPointer, "web.example.com"), W.a([3] + Array("web".utf8) + [0xC0, 16], [10, 0, 0, 1])],
            authority: [W.record(W.name("example.com"), type: 6, data: Array(repeating: 1, count: 22))],
            additional: [W.srv(W.questionPointer, priority: 1, weight: 2, port: 3, target: "x.y"), W.opt()])
        #expect(try parse(reply).answers.count == 2)
        for k in 0..<reply.count {
            #expect(throws: DNSMessageError.self, "prefix of \(k) bytes") { try parse(Array(reply[..<k])) }
        }
    }

    @Test func pointersMustPointBackwards() {
        // A pointer to itself, one that points forwards, and two that point at each other.
        let at = query.count - 11  // where the first answer's name starts
        #expect(throws: DNSMessageError.badPointer(at: at)) {
            try parse(W.reply(to: query, answers: [W.record([0xC0, UInt8(at)], type: 1, data: [1, 2, 3, 4])]))
        }
        #expect(throws: DNSMessageError.badPointer(at: at)) {
            try parse(W.reply(to: query, answers: [W.record([0xC0, UInt8(at + 10)], type: 1, data: [1, 2, 3, 4])]))
        }
        // "a" then a pointer back to "a": backwards, but into its own run, so a loop.
        #expect(throws: DNSMessageError.badPointer(at: at + 2)) {
            try parse(W.reply(to: query, answers: [W.record([1, 0x61, 0xC0, UInt8(at)], type: 1, data: [1, 2, 3, 4])]))
        }
        // Two pointers inside an earlier record's data that point at each other, reached by a
        // third that points backwards at them: each jump must go further back, so it stops.
        let p = at + 2 + 10  // the first record's data: after its 2-byte owner and 10 bytes of fields
        let pair = W.record(W.questionPointer, type: 16, data: [0xC0, UInt8(p + 2), 0xC0, UInt8(p)])
        #expect(throws: DNSMessageError.badPointer(at: p)) {
            try parse(W.reply(to: query, answers: [pair, W.record([0xC0, UInt8(p + 2)], type: 1, data: [1, 2, 3, 4])]))
        }
    }

    @Test func labelsAndNamesHaveLimits() {
        // A 64-byte label is label type 01: invalid.
        let big = [UInt8(64)] + Array(repeating: 0x61, count: 64) + [0]
        #expect(throws: DNSMessageError.self) { try parse(W.reply(to: query, answers: [W.record(big, type: 1, data: [1, 2, 3, 4])])) }
        // Five 63-byte labels: 320 bytes of name.
        let label: [UInt8] = [63] + [UInt8](repeating: 0x61, count: 63)
        let long: [UInt8] = label + label + label + label + label + [0]
        #expect(throws: DNSMessageError.nameTooLong(at: query.count - 11 + 192)) {
            try parse(W.reply(to: query, answers: [W.record(long, type: 1, data: [1, 2, 3, 4])]))
        }
        let ext = [UInt8(0x41), 0]
        #expect(throws: DNSMessageError.badLabel(at: query.count - 11)) {
            try parse(W.reply(to: query, answers: [W.record(ext, type: 1, data: [1, 2, 3, 4])]))
        }
    }

    @Test func recordDataMustHaveItsTypesLength() {
        #expect(throws: DNSMessageError.self) { try parse(W.reply(to: query, answers: [W.a(W.questionPointer, [1, 2, 3])])) }
        #expect(throws: DNSMessageError.self) { try parse(W.reply(to: query, answers: [W.aaaa(W.questionPointer, [1, 2, 3, 4])])) }
        #expect(throws: DNSMessageError.self) {
            try parse(W.reply(to: query, answers: [W.record(W.questionPointer, type: 5, data: W.name("x.y") + [0])]))
        }
        #expect(throws: DNSMessageError.self) {
            try parse(W.reply(to: query, answers: [W.record(W.questionPointer, type: 33, data: [0, 1, 0, 2])]))
        }
        // RDLENGTH past the end of the message.
        var over = W.reply(to: query, answers: [W.a(W.questionPointer, [1, 2, 3, 4])])
        over[over.count - 5] = 9
        #expect(throws: DNSMessageError.self) { try parse(over) }
    }

    @Test func truncationAndRcodesAreReportedWithoutRecords() throws {
        let tc = try parse(W.reply(to: query, flags: 0x8380, answers: [W.a(W.questionPointer, [1, 2, 3, 4])]))
        #expect(tc.truncated && tc.answers.isEmpty)
        // dnsmasq-style TC: header and question only, the answer count still set.
        var cut = W.reply(to: query, flags: 0x8380)
        cut[7] = 5
        #expect(try parse(cut).truncated)
        for (code, rcode) in [(2, DNSRcode.servFail), (3, .nxDomain), (5, .refused), (4, .notImp)] {
            let r = try parse(W.reply(to: query, flags: 0x8180 | UInt16(code), answers: [W.a(W.questionPointer, [1, 2, 3, 4])]))
            #expect(r.rcode == rcode && r.answers.isEmpty)
        }
        // An EDNS0 extended rcode (BADVERS = 16).
        let badvers = try parse(W.reply(to: query, additional: [W.opt(extendedRcode: 1)]))
        #expect(badvers.rcode.rawValue == 16 && badvers.rcode.description == "RCODE 16")
    }

    @Test func anOPTRecordIsAllowedOnceAndOnlyInTheAdditionalSection() {
        let at = query.count - 11
        #expect(throws: DNSMessageError.badRecordData(type: 41, at: at)) { try parse(W.reply(to: query, answers: [W.opt()])) }
        #expect(throws: DNSMessageError.badRecordData(type: 41, at: at)) { try parse(W.reply(to: query, authority: [W.opt()])) }
        #expect(throws: DNSMessageError.badRecordData(type: 41, at: at + 11)) {
            try parse(W.reply(to: query, additional: [W.opt(), W.opt()]))
        }
    }

    @Test func shortAndEmptyInputsAreErrors() {
        for bytes in [[], [0xBE], [0xBE, 0xEF, 0x81], Array(query[..<12])] as [[UInt8]] {
            #expect(throws: DNSMessageError.self) { try parse(bytes) }
        }
    }

    @Test func oddLabelBytesAreEscapedInText() throws {
        let owner: [UInt8] = [3, 0x61, 0x2E, 0x00, 0xC0, 0x0C]  // "a.\0" then the question
        let r = try parse(W.reply(to: query, answers: [W.a(owner, [1, 2, 3, 4])]))
        #expect(r.answers.first?.name == "a\\046\\000.api.example.com.")
        #expect(try DNSMessage.canonicalName(".") == ".")
    }
}
