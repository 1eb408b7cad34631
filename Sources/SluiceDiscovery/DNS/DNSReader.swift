/// A bounds-checked cursor over one DNS message: integers, names (with compression) and records.
///
/// Pure. Every read checks the message's length first and throws `.truncatedMessage` instead of
/// reading past it. Names follow RFC 1035 §3.1 and §4.1.4: labels of at most 63 bytes, at most
/// 255 bytes in wire form, and pointers that point strictly before the start of the label run
/// they end, so each jump goes further back and a name always terminates.
struct DNSReader {
    let bytes: [UInt8]
    private(set) var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func u8() throws(DNSMessageError) -> UInt8 {
        guard offset < bytes.count else { throw .truncatedMessage(at: offset) }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func u16() throws(DNSMessageError) -> UInt16 {
        guard bytes.count - offset >= 2 else { throw .truncatedMessage(at: offset) }
        defer { offset += 2 }
        return UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
    }

    mutating func u32() throws(DNSMessageError) -> UInt32 {
        let hi = try u16()
        let lo = try u16()
        return UInt32(hi) << 16 | UInt32(lo)
    }

    /// Reads a name at the cursor as canonical text ("." for the root), moving past its
    /// in-line part (up to and including its first pointer or its root byte).
    mutating func name() throws(DNSMessageError) -> String {
        var text: [UInt8] = []
        var wireLength = 0
        var pos = offset
        var runStart = offset
        var jumped = false
        while true {
            guard pos < bytes.count else { throw .truncatedMessage(at: pos) }
            let len = Int(bytes[pos])
            switch len & 0xC0 {
            case 0xC0:
                guard pos + 1 < bytes.count else { throw .truncatedMessage(at: pos) }
                let target = (len & 0x3F) << 8 | Int(bytes[pos + 1])
                guard target < runStart else { throw .badPointer(at: pos) }
                if !jumped {
                    offset = pos + 2
                    jumped = true
                }
                pos = target
                runStart = target
            case 0x00:
                wireLength += 1 + len
                guard wireLength <= 255 else { throw .nameTooLong(at: pos) }
                if len == 0 {
                    if !jumped { offset = pos + 1 }
                    if text.isEmpty { text.append(UInt8(ascii: ".")) }
                    return String(decoding: text, as: UTF8.self)
                }
                guard bytes.count - (pos + 1) >= len else { throw .truncatedMessage(at: pos) }
                for b in bytes[(pos + 1)...(pos + len)] { Self.appendEscaped(b, to: &text) }
                text.append(UInt8(ascii: "."))
                pos += 1 + len
            default:
                throw .badLabel(at: pos)
            }
        }
    }

    /// Reads one resource record and moves past it; its data must fill exactly RDLENGTH.
    mutating func record() throws(DNSMessageError) -> DNSRecord {
        let start = offset
        let owner = try name()
        let type = try u16()
        let klass = try u16()
        let rawTTL = try u32()
        let length = Int(try u16())
        let dataStart = offset
        guard bytes.count - dataStart >= length else { throw .truncatedMessage(at: start) }
        let end = dataStart + length
        // RFC 2181 §8: a TTL with the top bit set is read as 0.
        var ttl = rawTTL & 0x8000_0000 != 0 ? 0 : rawTTL
        let data: DNSRecordData
        switch (DNSType(rawValue: type), klass) {
        case (.a, DNSMessage.classIN):
            guard length == 4 else { throw .badRecordData(type: type, at: start) }
            data = .a(Array(bytes[dataStart..<end]))
        case (.aaaa, DNSMessage.classIN):
            guard length == 16 else { throw .badRecordData(type: type, at: start) }
            data = .aaaa(Array(bytes[dataStart..<end]))
        case (.cname, DNSMessage.classIN):
            let target = try name()
            guard offset == end else { throw .badRecordData(type: type, at: start) }
            data = .cname(target)
        case (.srv, DNSMessage.classIN):
            guard length >= 7 else { throw .badRecordData(type: type, at: start) }
            let priority = try u16()
            let weight = try u16()
            let port = try u16()
            let target = try name()
            guard offset == end else { throw .badRecordData(type: type, at: start) }
            data = .srv(priority: priority, weight: weight, port: port, target: target)
        case (.opt, _):
            data = .opt(extendedRcode: UInt8(rawTTL >> 24))
            ttl = 0  // OPT's TTL field holds the extended rcode and flags
        default:
            data = .other(type: type)
        }
        offset = end
        return DNSRecord(name: owner, ttl: ttl, data: data)
    }

    /// Appends one label byte: ASCII letters lowercased, printable bytes as they are, and
    /// `.`, `\` and anything unprintable as `\DDD` (RFC 4343's text form).
    private static func appendEscaped(_ b: UInt8, to text: inout [UInt8]) {
        switch b {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"):
            text.append(b | 0x20)
        case UInt8(ascii: "."), UInt8(ascii: "\\"):
            text.append(UInt8(ascii: "\\"))
            text.append(contentsOf: Array(format3(b).utf8))
        case 0x21...0x7E:
            text.append(b)
        default:
            text.append(UInt8(ascii: "\\"))
            text.append(contentsOf: Array(format3(b).utf8))
        }
    }

    private static func format3(_ b: UInt8) -> String {
        let s = String(b)
        return String(repeating: "0", count: 3 - s.count) + s
    }
}
