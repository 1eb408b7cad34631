import FuzzSupport
import SluiceDiscovery

/// Parses the input as the reply to the question it carries (id from its first two bytes, the
/// question read here by a separate minimal reader; else "x." A) and checks: the same answer
/// twice, another id always rejected, no records unless NOERROR without TC, record data of the
/// right sizes, and owner names that are canonical (they parse back to themselves).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDNSMessage(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = size == 0 ? [] : Array(UnsafeRawBufferPointer(start: data, count: size))
    let (name, type) = question(bytes) ?? ("x.", .a)
    let id = bytes.count >= 2 ? UInt16(bytes[0]) << 8 | UInt16(bytes[1]) : 0
    let first = Result { () throws(DNSMessageError) in try DNSMessage.parseReply(bytes, id: id, name: name, type: type) }
    let again = Result { () throws(DNSMessageError) in try DNSMessage.parseReply(bytes, id: id, name: name, type: type) }
    invariant(first == again, "two parses differ: \(first) and \(again)")
    let otherID = Result { () throws(DNSMessageError) in try DNSMessage.parseReply(bytes, id: id &+ 1, name: name, type: type) }
    if case .success(let r) = otherID { invariant(false, "accepted for id \(id &+ 1): \(r)") }
    if case .success(let reply) = first { check(reply, id: id) }
    // The start of any message alone (the header without its question) is never a reply.
    if bytes.count >= 12 {
        let head = Array(bytes[..<12])
        invariant((try? DNSMessage.parseReply(head, id: id, name: name, type: type)) == nil, "a bare header accepted")
    }
    return 0
}

private func check(_ reply: DNSReply, id: UInt16) {
    invariant(reply.id == id, "id \(reply.id), expected \(id)")
    if reply.truncated || reply.rcode != .noError {
        invariant(reply.answers.isEmpty && reply.additional.isEmpty, "records with TC or \(reply.rcode)")
    }
    invariant(reply.rcode.rawValue < 4096, "rcode \(reply.rcode.rawValue) over 12 bits")
    for r in reply.answers + reply.additional {
        invariant(r.ttl < 0x8000_0000, "TTL \(r.ttl) with the top bit set")
        checkName(r.name)
        switch r.data {
        case .a(let b): invariant(b.count == 4, "A of \(b.count) bytes")
        case .aaaa(let b): invariant(b.count == 16, "AAAA of \(b.count) bytes")
        case .cname(let t): checkName(t)
        case .srv(_, _, _, let t): checkName(t)
        case .opt: invariant(false, "an OPT record among the records")
        case .other: break
        }
    }
}

/// A parsed name ends with a dot, has no uppercase letters, and, without escapes, is its own
/// canonical form.
private func checkName(_ n: String) {
    invariant(n.hasSuffix("."), "name \(n) without its trailing dot")
    invariant(!n.utf8.contains { $0 >= 65 && $0 <= 90 }, "name \(n) not lowercased")
    if !n.contains("\\") && n != "." {
        invariant((try? DNSMessage.canonicalName(n)) == n, "name \(n) does not parse back to itself")
    }
}

/// The question at byte 12 when it is plain (labels of letters, digits, `-` and `_`, no
/// pointer) and of a type the client asks; its name as text and its type.
private func question(_ b: [UInt8]) -> (String, DNSType)? {
    var i = 12
    var labels: [String] = []
    var wire = 1
    while i < b.count {
        let len = Int(b[i])
        if len == 0 {
            guard i + 2 < b.count, let t = DNSType(rawValue: UInt16(b[i + 1]) << 8 | UInt16(b[i + 2])), t != .opt,
                !labels.isEmpty
            else { return nil }
            return (labels.joined(separator: ".") + ".", t)
        }
        guard len <= 63, i + 1 + len <= b.count else { return nil }
        wire += 1 + len
        guard wire <= 255 else { return nil }
        let label = b[(i + 1)...(i + len)]
        let plain = label.allSatisfy {
            ($0 >= 97 && $0 <= 122) || ($0 >= 65 && $0 <= 90) || ($0 >= 48 && $0 <= 57) || $0 == 45 || $0 == 95
        }
        guard plain else { return nil }
        labels.append(String(decoding: label, as: UTF8.self))
        i += 1 + len
    }
    return nil
}
