import SluiceHTTP

/// The request header names a response varies on (RFC 9111 §4.1), lowercased; `Vary: *` → isStar.
///
/// Read once per miss (allocates the names). Every Vary field of the head counts, as one
/// list (RFC 9110 §12.5.5); duplicates are removed, names keep their order of appearance.
public struct VaryNames: Equatable, Sendable {
    /// `Vary: *` (alone or among names): no stored response can match a later request.
    public var isStar = false
    /// Lowercase field names, duplicates removed, in order of appearance.
    public var names: [[UInt8]] = []

    public init() {}

    public static func parse(_ p: UnsafeRawPointer, _ fields: [HeaderField]) -> VaryNames {
        var v = VaryNames()
        for f in fields where HeadFields.isNamed(p, f, "vary") {
            var list = ByteCursor(p, Int(f.valueStart), Int(f.valueEnd))
            while let e = list.nextElement() {
                if e.end - e.start == 1 && CacheBytes.byte(p, e.start) == UInt8(ascii: "*") {
                    v.isStar = true
                    continue
                }
                var name: [UInt8] = []
                name.reserveCapacity(e.end - e.start)
                for i in e.start..<e.end { name.append(CacheBytes.lower(CacheBytes.byte(p, i))) }
                if !v.names.contains(name) { v.names.append(name) }
            }
        }
        return v
    }
}
