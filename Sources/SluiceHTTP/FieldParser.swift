import Glibc

/// Parses the field lines of a head (RFC 9112 §5), shared by requests and responses.
///
/// Strict by design: obs-fold, whitespace before the colon, names that are not
/// tokens, bare CR, NUL and other control bytes are errors, not repairs.
enum FieldParser {
    /// Finds the end of the line starting at `from`: the index of its CR (followed by LF).
    /// Returns nil when no LF is in the buffer yet; throws on a bare LF.
    ///
    /// Uses memchr (vectorized) for the LF. A CR elsewhere in the line is not checked here:
    /// every byte of a line is validated by its parser (method, target, version, field name
    /// and value), and none of them admits CR, so a bare CR is still refused.
    @inline(__always)
    static func lineEnd(_ p: UnsafeRawPointer, from: Int, to end: Int) throws(HTTPParseError) -> Int? {
        guard end > from, let hit = memchr(p + from, 0x0A, end - from) else { return nil }
        let i = UnsafeRawPointer(hit) - p
        if i == from || p.load(fromByteOffset: i - 1, as: UInt8.self) != 0x0D {
            throw HTTPParseError(400, "line ends in a bare LF")
        }
        return i - 1
    }

    /// Parses field lines from `start` until the empty line.
    /// Returns the index just after the final CRLF, or nil when incomplete.
    static func parse(
        _ p: UnsafeRawPointer, start: Int, end: Int, fields: inout [HeaderField], maxFields: Int = 256
    ) throws(HTTPParseError) -> Int? {
        var pos = start
        while true {
            guard let cr = try lineEnd(p, from: pos, to: end) else { return nil }
            if cr == pos { return pos + 2 }  // empty line: end of head
            let first = p.load(fromByteOffset: pos, as: UInt8.self)
            if first == 0x20 || first == 0x09 { throw HTTPParseError(400, "obsolete line folding") }
            var i = pos
            while i < cr {
                let c = p.load(fromByteOffset: i, as: UInt8.self)
                if c == UInt8(ascii: ":") { break }
                if c == 0x20 || c == 0x09 { throw HTTPParseError(400, "whitespace before a field's colon") }
                if !ByteClass.isTChar(c) { throw HTTPParseError(400, "field name is not a token") }
                i += 1
            }
            if i == cr { throw HTTPParseError(400, "field line without a colon") }
            if i == pos { throw HTTPParseError(400, "empty field name") }
            let nameEnd = i
            i += 1
            while i < cr, p.load(fromByteOffset: i, as: UInt8.self) == 0x20 || p.load(fromByteOffset: i, as: UInt8.self) == 0x09 {
                i += 1
            }
            let valueStart = i
            var valueEnd = i
            while i < cr {
                let c = p.load(fromByteOffset: i, as: UInt8.self)
                if !ByteClass.isFieldValueByte(c) { throw HTTPParseError(400, "control byte in a field value") }
                if c != 0x20 && c != 0x09 { valueEnd = i + 1 }
                i += 1
            }
            if fields.count >= maxFields { throw HTTPParseError(431, "too many header fields") }
            fields.append(
                HeaderField(
                    nameStart: Int32(pos), nameEnd: Int32(nameEnd), valueStart: Int32(valueStart),
                    valueEnd: Int32(valueEnd), kind: FieldKind.classify(p + pos, nameEnd - pos)))
            pos = cr + 2
        }
    }

    /// Calls `body` with each non-empty, OWS-trimmed element of a comma-separated list value.
    @inline(__always)
    static func forEachListElement(
        _ p: UnsafeRawPointer, _ start: Int, _ end: Int, _ body: (Int, Int) throws(HTTPParseError) -> Void
    ) throws(HTTPParseError) {
        var i = start
        while i < end {
            while i < end, isOWSOrComma(p.load(fromByteOffset: i, as: UInt8.self)) { i += 1 }
            let s = i
            while i < end, p.load(fromByteOffset: i, as: UInt8.self) != UInt8(ascii: ",") { i += 1 }
            var e = i
            while e > s, isOWS(p.load(fromByteOffset: e - 1, as: UInt8.self)) { e -= 1 }
            if e > s { try body(s, e) }
        }
    }

    @inline(__always) static func isOWS(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 }
    @inline(__always) static func isOWSOrComma(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 || c == UInt8(ascii: ",") }

    /// Parses a Content-Length value: a list whose members must all be the same decimal number.
    static func contentLength(_ p: UnsafeRawPointer, _ start: Int, _ end: Int, current: Int?) throws(HTTPParseError) -> Int {
        var result = current
        var sawOne = false
        try forEachListElement(p, start, end) { (s, e) throws(HTTPParseError) in
            sawOne = true
            if e - s > 18 { throw HTTPParseError(400, "Content-Length too large") }
            var v = 0
            for k in s..<e {
                let c = p.load(fromByteOffset: k, as: UInt8.self)
                guard c >= 48 && c <= 57 else { throw HTTPParseError(400, "malformed Content-Length") }
                v = v * 10 + Int(c - 48)
            }
            if let r = result, r != v { throw HTTPParseError(400, "conflicting Content-Length values") }
            result = v
        }
        guard sawOne, let r = result else { throw HTTPParseError(400, "malformed Content-Length") }
        return r
    }

    /// Does a `Connection` field among `fields` list the name of `fields[index]`?
    static func connectionLists(_ fields: [HeaderField], _ index: Int, _ p: UnsafeRawPointer) -> Bool {
        let f = fields[index]
        let ns = Int(f.nameStart)
        let nl = Int(f.nameEnd) - ns
        for c in fields where c.kind == .connection {
            var hit = false
            try? forEachListElement(p, Int(c.valueStart), Int(c.valueEnd)) { s, e in
                if e - s == nl && caseInsensitiveEqual(p + s, p + ns, nl) { hit = true }
            }
            if hit { return true }
        }
        return false
    }
}
