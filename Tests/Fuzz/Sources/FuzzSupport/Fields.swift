import SluiceHTTP

/// One parsed field as bytes, for comparing two parses of different buffers.
public struct FieldView: Equatable {
    public var name: [UInt8]
    public var value: [UInt8]
    public var kind: FieldKind
}

/// Reads the fields of a complete head and checks what every field must satisfy:
/// offsets in order and inside the head, a token name, a trimmed value without control bytes,
/// and the kind the name means (an oracle independent of `FieldKind.classify`).
public func checkedFields(
    _ fields: [HeaderField], in p: UnsafeRawBufferPointer, from start: Int, length: Int
) -> [FieldView] {
    var views: [FieldView] = []
    var previousEnd = start
    for f in fields {
        let ns = Int(f.nameStart)
        let ne = Int(f.nameEnd)
        let vs = Int(f.valueStart)
        let ve = Int(f.valueEnd)
        invariant(previousEnd <= ns && ns < ne, "field offsets out of order")
        invariant(ne < vs && vs <= ve && ve <= length - 4, "field offsets \(ns) \(ne) \(vs) \(ve) outside the head of \(length)")
        invariant(p[ne] == UInt8(ascii: ":"), "a field name does not end at a colon")
        let name = Array(p[ns..<ne])
        let value = Array(p[vs..<ve])
        invariant(name.allSatisfy(isTChar), "field name \(escaped(name)) is not a token")
        invariant(value.allSatisfy { $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }, "control byte in value \(escaped(value))")
        if let first = value.first, let last = value.last {
            invariant(!isOWS(first) && !isOWS(last), "field value \(escaped(value)) is not trimmed")
        }
        for k in (ne + 1)..<vs { invariant(isOWS(p[k]), "bytes other than OWS between the colon and the value") }
        invariant(f.kind == expectedKind(name), "field \(escaped(name)) classified as \(f.kind)")
        views.append(FieldView(name: name, value: value, kind: f.kind))
        previousEnd = ve + 2
    }
    return views
}

/// The field kind a name means, written without the parser's length switch.
public func expectedKind(_ name: [UInt8]) -> FieldKind {
    let kinds: [String: FieldKind] = [
        "host": .host, "content-length": .contentLength, "transfer-encoding": .transferEncoding,
        "connection": .connection, "keep-alive": .keepAlive, "proxy-connection": .proxyConnection, "te": .te,
        "upgrade": .upgrade, "expect": .expect, "x-forwarded-for": .xForwardedFor, "x-forwarded-proto": .xForwardedProto,
        "x-request-id": .xRequestId, "trailer": .trailer,
    ]
    let lower = String(decoding: name.map { $0 >= 65 && $0 <= 90 ? $0 | 0x20 : $0 }, as: UTF8.self)
    return kinds[lower] ?? .other
}

/// Appends `name: value\r\n` for each field: the canonical form of a parsed field section.
public func serialize(_ fields: [FieldView], into out: inout [UInt8]) {
    for f in fields {
        out += f.name
        out += Array(": ".utf8)
        out += f.value
        out += [0x0D, 0x0A]
    }
    out += [0x0D, 0x0A]
}

/// Does the head end with the empty line, as every complete head must?
public func endsWithEmptyLine(_ p: UnsafeRawBufferPointer, _ length: Int) -> Bool {
    length >= 4 && p[length - 4] == 0x0D && p[length - 3] == 0x0A && p[length - 2] == 0x0D && p[length - 1] == 0x0A
}

/// Prefix lengths worth re-parsing: just before and just after each LF of the head, and one byte
/// short. Each must give `.incomplete`: a head that arrives in pieces is judged like one that
/// arrives at once.
public func interestingPrefixes(_ p: UnsafeRawBufferPointer, _ length: Int) -> [Int] {
    var result: [Int] = [length - 1]
    for i in 0..<length where p[i] == 0x0A {
        result.append(i)
        if i + 1 < length { result.append(i + 1) }
    }
    return result
}

@inline(__always) func isOWS(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 }

/// RFC 9110 §5.6.2 tchar, written as a set rather than as the parser's switch.
public func isTChar(_ c: UInt8) -> Bool {
    let specials = Array("!#$%&'*+-.^_`|~".utf8)
    return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || specials.contains(c)
}
