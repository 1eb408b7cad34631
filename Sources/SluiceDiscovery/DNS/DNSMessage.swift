/// DNS messages as Sluice's resolver uses them: one question out, one validated reply in.
///
/// Pure. The query is RFC 1035 §4.1 with RD set and an EDNS0 OPT record (RFC 6891) offering a
/// 1232-byte UDP payload. `parseReply` accepts only the reply to that query: same id, QR set,
/// opcode QUERY, exactly the question asked (names compared case-insensitively), and every
/// length inside the message. Compression pointers (§4.1.4) must point strictly before the start
/// of the label run that contains them, so they cannot loop. Any input gives a value or a
/// `DNSMessageError`, never a trap. Public, with its value types, for the fuzz package
/// (Tests/Fuzz, FuzzDNSMessage); the rest of the resolver is `package`.
public enum DNSMessage {
    /// The UDP payload Sluice offers in its OPT record (the DNS Flag Day 2020 value).
    public static let udpPayload: UInt16 = 1232
    /// The class IN.
    public static let classIN: UInt16 = 1

    /// The query for `name` (used as written; a trailing dot is implied) and `type`, with RD=1.
    /// Throws `.badName` for an empty label, a label over 63 bytes or a name over 255.
    public static func query(id: UInt16, name: String, type: DNSType) throws(DNSMessageError) -> [UInt8] {
        let wire = try encodeName(name)
        var out: [UInt8] = []
        out.reserveCapacity(12 + wire.count + 4 + 11)
        put16(&out, id)
        put16(&out, 0x0100)  // RD
        put16(&out, 1)  // QDCOUNT
        put16(&out, 0)  // ANCOUNT
        put16(&out, 0)  // NSCOUNT
        put16(&out, 1)  // ARCOUNT: the OPT record
        out += wire
        put16(&out, type.rawValue)
        put16(&out, classIN)
        out.append(0)  // OPT: root name
        put16(&out, DNSType.opt.rawValue)
        put16(&out, udpPayload)  // CLASS = payload size
        put16(&out, 0)  // TTL = extended rcode 0, version 0
        put16(&out, 0)  // flags (DO = 0)
        put16(&out, 0)  // RDLENGTH
        return out
    }

    /// Validates `bytes` as the reply to the query `(id, name, type)` and reads its records.
    ///
    /// A reply with TC set or a non-zero rcode is returned with its flags and no records (its
    /// sections may be cut or meaningless); the caller decides what that means.
    public static func parseReply(_ bytes: [UInt8], id: UInt16, name: String, type: DNSType) throws(DNSMessageError) -> DNSReply {
        let expected = try canonicalName(name)
        var r = DNSReader(bytes)
        let replyID = try r.u16()
        guard replyID == id else { throw .wrongID(expected: id, got: replyID) }
        let flags = try r.u16()
        guard flags & 0x8000 != 0 else { throw .notAReply }
        let opcode = UInt8((flags >> 11) & 0x0F)
        guard opcode == 0 else { throw .wrongOpcode(opcode) }
        let qd = try r.u16()
        let an = try r.u16()
        let ns = try r.u16()
        let ar = try r.u16()
        guard qd == 1 else { throw .questionCount(Int(qd)) }
        let qname = try r.name()
        let qtype = try r.u16()
        let qclass = try r.u16()
        guard qname == expected, qtype == type.rawValue, qclass == classIN else {
            throw .questionMismatch(name: qname, type: qtype, class: qclass)
        }
        var reply = DNSReply(
            id: replyID, rcode: DNSRcode(rawValue: UInt16(flags & 0x000F)), truncated: flags & 0x0200 != 0,
            authoritative: flags & 0x0400 != 0, answers: [], additional: [])
        if reply.truncated || reply.rcode != .noError { return reply }
        // RFC 6891 §6.1.1: one OPT record at most, in the additional section only.
        for _ in 0..<an {
            let at = r.offset
            let rec = try r.record()
            if case .opt = rec.data { throw .badRecordData(type: DNSType.opt.rawValue, at: at) }
            reply.answers.append(rec)
        }
        for _ in 0..<ns {
            let at = r.offset
            if case .opt = try r.record().data { throw .badRecordData(type: DNSType.opt.rawValue, at: at) }
        }
        var sawOPT = false
        for _ in 0..<ar {
            let at = r.offset
            let rec = try r.record()
            if case .opt(let extended) = rec.data {
                guard !sawOPT else { throw .badRecordData(type: DNSType.opt.rawValue, at: at) }
                sawOPT = true
                // RFC 6891 §6.1.3: the upper 8 bits of a 12-bit rcode.
                reply.rcode = DNSRcode(rawValue: UInt16(extended) << 4 | reply.rcode.rawValue)
                if reply.rcode != .noError {
                    reply.answers = []
                    reply.additional = []
                    return reply
                }
            } else {
                reply.additional.append(rec)
            }
        }
        return reply
    }

    /// `name` in wire form: length-prefixed labels and the root byte.
    public static func encodeName(_ name: String) throws(DNSMessageError) -> [UInt8] {
        guard !name.isEmpty else { throw .badName("empty name") }
        var labels = Array(name.utf8).split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        if labels.last?.isEmpty == true { labels.removeLast() }  // the trailing dot
        if name == "." { labels = [] }
        var out: [UInt8] = []
        for label in labels {
            guard !label.isEmpty else { throw .badName("empty label in \"\(name)\"") }
            guard label.count <= 63 else { throw .badName("label over 63 bytes in \"\(name)\"") }
            out.append(UInt8(label.count))
            out += label
        }
        out.append(0)
        guard out.count <= 255 else { throw .badName("name over 255 bytes: \"\(name)\"") }
        return out
    }

    /// The text form replies are compared in: lowercase ASCII, a trailing dot, odd bytes as `\DDD`.
    public static func canonicalName(_ name: String) throws(DNSMessageError) -> String {
        let wire = try encodeName(name)
        var r = DNSReader(wire)
        return try r.name()
    }

    private static func put16(_ out: inout [UInt8], _ v: UInt16) {
        out.append(UInt8(v >> 8))
        out.append(UInt8(v & 0xFF))
    }
}

/// Record types Sluice reads (others are kept as `.other`).
public enum DNSType: UInt16, Sendable, CustomStringConvertible {
    case a = 1
    case cname = 5
    case aaaa = 28
    case srv = 33
    case opt = 41

    public var description: String {
        switch self {
        case .a: "A"
        case .cname: "CNAME"
        case .aaaa: "AAAA"
        case .srv: "SRV"
        case .opt: "OPT"
        }
    }
}

/// A reply's response code (RFC 1035 §4.1.1, extended by EDNS0 to 12 bits).
public struct DNSRcode: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let noError = DNSRcode(rawValue: 0)
    public static let formErr = DNSRcode(rawValue: 1)
    public static let servFail = DNSRcode(rawValue: 2)
    public static let nxDomain = DNSRcode(rawValue: 3)
    public static let notImp = DNSRcode(rawValue: 4)
    public static let refused = DNSRcode(rawValue: 5)

    public var description: String {
        switch rawValue {
        case 0: "NOERROR"
        case 1: "FORMERR"
        case 2: "SERVFAIL"
        case 3: "NXDOMAIN"
        case 4: "NOTIMP"
        case 5: "REFUSED"
        default: "RCODE \(rawValue)"
        }
    }
}

/// The data of one resource record.
public enum DNSRecordData: Sendable, Equatable {
    /// 4 bytes, network order.
    case a([UInt8])
    /// 16 bytes, network order.
    case aaaa([UInt8])
    case cname(String)
    case srv(priority: UInt16, weight: UInt16, port: UInt16, target: String)
    /// An OPT pseudo-record (additional section): the upper bits of the extended rcode.
    case opt(extendedRcode: UInt8)
    /// Any other type or class, skipped by its length.
    case other(type: UInt16)
}

/// One resource record: its owner (canonical text), TTL in seconds and data.
public struct DNSRecord: Sendable, Equatable {
    public var name: String
    public var ttl: UInt32
    public var data: DNSRecordData

    public init(name: String, ttl: UInt32, data: DNSRecordData) {
        self.name = name
        self.ttl = ttl
        self.data = data
    }
}

/// A validated reply. `answers` and `additional` are empty unless rcode is NOERROR and TC is clear.
public struct DNSReply: Sendable, Equatable {
    public var id: UInt16
    public var rcode: DNSRcode
    public var truncated: Bool
    public var authoritative: Bool
    public var answers: [DNSRecord]
    public var additional: [DNSRecord]
}

/// Why a datagram is not the reply to the query (it is dropped), or why a name cannot be asked.
public enum DNSMessageError: Error, Sendable, Equatable, CustomStringConvertible {
    case badName(String)
    /// The message ends inside a field or record that starts before `at`.
    case truncatedMessage(at: Int)
    case wrongID(expected: UInt16, got: UInt16)
    case notAReply
    case wrongOpcode(UInt8)
    case questionCount(Int)
    case questionMismatch(name: String, type: UInt16, class: UInt16)
    /// A compression pointer at `at` that does not point strictly backwards.
    case badPointer(at: Int)
    /// Label type bits 01 or 10 (RFC 6891 §5 / RFC 2673): not used in replies.
    case badLabel(at: Int)
    case nameTooLong(at: Int)
    /// A record whose data does not have the length its type needs.
    case badRecordData(type: UInt16, at: Int)

    public var description: String {
        switch self {
        case .badName(let s): "bad name: \(s)"
        case .truncatedMessage(let at): "message ends early (at byte \(at))"
        case .wrongID(let e, let g): "reply id \(g), expected \(e)"
        case .notAReply: "QR bit clear: not a reply"
        case .wrongOpcode(let o): "opcode \(o), expected 0"
        case .questionCount(let n): "\(n) questions, expected 1"
        case .questionMismatch(let n, let t, let c): "reply to another question: \(n) type \(t) class \(c)"
        case .badPointer(let at): "compression pointer at byte \(at) does not point backwards"
        case .badLabel(let at): "unknown label type at byte \(at)"
        case .nameTooLong(let at): "name over 255 bytes at byte \(at)"
        case .badRecordData(let t, let at): "record of type \(t) at byte \(at) has bad data"
        }
    }
}
