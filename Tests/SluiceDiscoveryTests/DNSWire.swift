@testable import SluiceDiscovery

/// Builds DNS reply bytes by hand for tests (no code shared with the parser but `encodeName`).
enum DNSWire {
    static func u16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xFF)] }
    static func u32(_ v: UInt32) -> [UInt8] { u16(UInt16(v >> 16)) + u16(UInt16(v & 0xFFFF)) }

    static func name(_ s: String) -> [UInt8] { try! DNSMessage.encodeName(s) }

    /// A pointer to the question's name, which always starts at byte 12.
    static let questionPointer: [UInt8] = [0xC0, 0x0C]

    static func record(_ owner: [UInt8], type: UInt16, ttl: UInt32 = 300, klass: UInt16 = 1, data: [UInt8]) -> [UInt8] {
        owner + u16(type) + u16(klass) + u32(ttl) + u16(UInt16(data.count)) + data
    }

    static func a(_ owner: [UInt8], _ ip: [UInt8], ttl: UInt32 = 300) -> [UInt8] { record(owner, type: 1, ttl: ttl, data: ip) }
    static func aaaa(_ owner: [UInt8], _ ip: [UInt8], ttl: UInt32 = 300) -> [UInt8] {
        record(owner, type: 28, ttl: ttl, data: ip)
    }
    static func cname(_ owner: [UInt8], _ target: String, ttl: UInt32 = 300) -> [UInt8] {
        record(owner, type: 5, ttl: ttl, data: name(target))
    }
    static func srv(_ owner: [UInt8], priority: UInt16, weight: UInt16, port: UInt16, target: String, ttl: UInt32 = 300)
        -> [UInt8]
    {
        record(owner, type: 33, ttl: ttl, data: u16(priority) + u16(weight) + u16(port) + name(target))
    }
    static func opt(extendedRcode: UInt8 = 0) -> [UInt8] {
        [0] + u16(41) + u16(1232) + [extendedRcode, 0, 0, 0] + u16(0)
    }

    /// The question section of one of our queries (header and OPT record cut off).
    static func question(of query: [UInt8]) -> [UInt8] { Array(query[12..<(query.count - 11)]) }

    /// A reply to `query`: its id and question, `flags` (default QR RD RA, NOERROR) and sections.
    static func reply(
        to query: [UInt8], flags: UInt16 = 0x8180, answers: [[UInt8]] = [], authority: [[UInt8]] = [],
        additional: [[UInt8]] = [], id: UInt16? = nil
    ) -> [UInt8] {
        let replyID = id.map(u16) ?? Array(query[0..<2])
        var out = replyID + u16(flags) + u16(1) + u16(UInt16(answers.count)) + u16(UInt16(authority.count))
        out += u16(UInt16(additional.count))
        out += question(of: query)
        for r in answers + authority + additional { out += r }
        return out
    }

    /// The id of a query.
    static func id(_ query: [UInt8]) -> UInt16 { UInt16(query[0]) << 8 | UInt16(query[1]) }
}
