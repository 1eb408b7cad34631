import SluiceHTTP

/// A request's values of the header names a response varies on (RFC 9111 §4.1), as the
/// bytes one variant is stored and found by: for each name in order, every field of that
/// name, values trimmed and joined by ",", then a NUL. Absent fields give an empty value (an
/// absent header and an empty one select the same variant, as the RFC allows).
///
/// Loop thread; no allocation once `into` has grown to the request's size.
public enum VaryKey {
    public static func values(
        of names: [[UInt8]], _ p: UnsafeRawPointer, _ fields: [HeaderField], into out: inout [UInt8]
    ) {
        out.removeAll(keepingCapacity: true)
        for name in names {
            var first = true
            for f in fields where isNamed(p, f, name) {
                var s = Int(f.valueStart)
                var e = Int(f.valueEnd)
                while s < e && isSpace(p.load(fromByteOffset: s, as: UInt8.self)) { s += 1 }
                while e > s && isSpace(p.load(fromByteOffset: e - 1, as: UInt8.self)) { e -= 1 }
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                for i in s..<e { out.append(p.load(fromByteOffset: i, as: UInt8.self)) }
            }
            if first { out.append(0xFF) }
            out.append(0)
        }
    }

    @inline(__always)
    static func isSpace(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 }

    /// Whether field `f` is named `name` (lowercase), case-insensitively.
    @inline(__always)
    static func isNamed(_ p: UnsafeRawPointer, _ f: HeaderField, _ name: [UInt8]) -> Bool {
        let n = Int(f.nameEnd - f.nameStart)
        guard n == name.count else { return false }
        for k in 0..<n {
            var c = p.load(fromByteOffset: Int(f.nameStart) + k, as: UInt8.self)
            if c >= 65 && c <= 90 { c |= 0x20 }
            if c != name[k] { return false }
        }
        return true
    }
}
