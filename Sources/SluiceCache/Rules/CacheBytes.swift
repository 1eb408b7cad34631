/// Byte-level helpers the cache rules share: loads, ASCII case folding, delta-seconds, lists.
///
/// All are pure, allocation-free and callable from any thread; offsets index the head's bytes.
enum CacheBytes {
    /// RFC 9111 §1.2.2: a delta-seconds past the largest integer is sent on as 2^31.
    static let deltaSecondsCap = 2_147_483_648

    @inline(__always)
    static func byte(_ p: UnsafeRawPointer, _ i: Int) -> UInt8 {
        p.load(fromByteOffset: i, as: UInt8.self)
    }

    @inline(__always)
    static func lower(_ c: UInt8) -> UInt8 {
        c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z") ? c | 0x20 : c
    }

    @inline(__always)
    static func isOWS(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 }

    @inline(__always)
    static func isDigit(_ c: UInt8) -> Bool { c >= 48 && c <= 57 }

    /// Do the bytes `start..<end` equal the lowercase ASCII `literal`, ignoring case?
    @inline(__always)
    static func equalsLowercase(_ p: UnsafeRawPointer, _ start: Int, _ end: Int, _ literal: StaticString) -> Bool {
        let n = literal.utf8CodeUnitCount
        guard end - start == n else { return false }
        let l = literal.utf8Start
        for i in 0..<n where lower(byte(p, start + i)) != l[i] { return false }
        return true
    }

    /// `start..<end` with optional whitespace removed at both ends.
    @inline(__always)
    static func trimmed(_ p: UnsafeRawPointer, _ start: Int, _ end: Int) -> (start: Int, end: Int) {
        var s = start
        var e = end
        while s < e, isOWS(byte(p, s)) { s += 1 }
        while e > s, isOWS(byte(p, e - 1)) { e -= 1 }
        return (s, e)
    }

    /// delta-seconds (RFC 9111 §1.2.2): one or more digits, saturating at 2^31; nil if not digits.
    static func deltaSeconds(_ p: UnsafeRawPointer, _ start: Int, _ end: Int) -> Int? {
        decimal(p, start, end).map { min($0, deltaSecondsCap) }
    }

    /// A non-negative decimal integer, saturating at `Int.max`; nil if empty or not all digits.
    static func decimal(_ p: UnsafeRawPointer, _ start: Int, _ end: Int) -> Int? {
        guard end > start else { return nil }
        var v = 0
        for i in start..<end {
            let c = byte(p, i)
            guard isDigit(c) else { return nil }
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int(c - 48))
            v = o1 || o2 ? Int.max : a
        }
        return v
    }
}

/// A position in a field value, read forward without allocating (lists, entity-tags).
struct ByteCursor {
    let p: UnsafeRawPointer
    var i: Int
    let end: Int

    init(_ p: UnsafeRawPointer, _ start: Int, _ end: Int) {
        self.p = p
        self.i = start
        self.end = end
    }

    /// The next element of a comma-separated list value (RFC 9110 §5.6.1), or nil at the end.
    ///
    /// Elements come out OWS-trimmed; empty ones are skipped. A comma inside a quoted-string
    /// (with its backslash escapes) does not split, so `no-cache="a, b"` stays one element.
    mutating func nextElement() -> (start: Int, end: Int)? {
        while i < end {
            let s = i
            var quoted = false
            while i < end {
                let c = CacheBytes.byte(p, i)
                if quoted {
                    if c == UInt8(ascii: "\\") {
                        i += 1
                    } else if c == UInt8(ascii: "\"") {
                        quoted = false
                    }
                } else if c == UInt8(ascii: "\"") {
                    quoted = true
                } else if c == UInt8(ascii: ",") {
                    break
                }
                i += 1
            }
            let e = min(i, end)
            if i < end { i += 1 }  // past the comma
            let t = CacheBytes.trimmed(p, s, e)
            if t.end > t.start { return t }
        }
        return nil
    }
}
