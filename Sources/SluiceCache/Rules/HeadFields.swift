import SluiceHTTP

/// Field lookup by name, case-insensitive; `name` is lowercase ASCII.
///
/// Pure, allocation-free, any thread. Cost: one pass over `fields`, comparing lengths first.
public enum HeadFields {
    /// The first field named `name`: its value's bounds (already OWS-trimmed by the parser).
    @inline(__always)
    public static func find(_ p: UnsafeRawPointer, _ fields: [HeaderField], _ name: StaticString) -> (start: Int, end: Int)? {
        for f in fields where isNamed(p, f, name) { return (Int(f.valueStart), Int(f.valueEnd)) }
        return nil
    }

    /// Is any field named `name`?
    @inline(__always)
    public static func contains(_ p: UnsafeRawPointer, _ fields: [HeaderField], _ name: StaticString) -> Bool {
        find(p, fields, name) != nil
    }

    /// How many fields are named `name` (RFC 9110 §5.3: repeated lines make one list).
    public static func count(_ p: UnsafeRawPointer, _ fields: [HeaderField], _ name: StaticString) -> Int {
        var n = 0
        for f in fields where isNamed(p, f, name) { n += 1 }
        return n
    }

    /// Is `f` named `name` (lowercase bytes)?
    @inline(__always)
    public static func isNamed(_ p: UnsafeRawPointer, _ f: HeaderField, _ name: [UInt8]) -> Bool {
        let s = Int(f.nameStart)
        guard Int(f.nameEnd) - s == name.count else { return false }
        for i in 0..<name.count where CacheBytes.lower(CacheBytes.byte(p, s + i)) != name[i] { return false }
        return true
    }

    /// Is `f` named `name` (a lowercase literal)?
    @inline(__always)
    public static func isNamed(_ p: UnsafeRawPointer, _ f: HeaderField, _ name: StaticString) -> Bool {
        CacheBytes.equalsLowercase(p, Int(f.nameStart), Int(f.nameEnd), name)
    }
}
