import SluiceHTTP

/// A `Range` request against a complete stored body of `length` bytes (RFC 9110 §14).
///
/// Per hit: pure and allocation-free.
public enum ByteRange: Equatable, Sendable {
    /// No Range, not a bytes range, a malformed one, or an If-Range that does not match:
    /// serve the whole 200 (§14.2: a server may ignore Range).
    case none
    /// Inclusive bounds: 206 with `Content-Range: bytes first-last/length`.
    case single(first: Int, last: Int)
    /// 416 with `Content-Range: bytes */length`.
    case unsatisfiable
    /// More than one range, at least one satisfiable: Sluice serves the whole 200 (§14.2).
    case multiple

    /// Reads `Range` (§14.2) and `If-Range` (§13.1.5).
    ///
    /// Syntax: `bytes=0-99`, `bytes=100-` (to the end), `bytes=-500` (the last 500; more than
    /// the length is the whole body). The unit name is case-insensitive; whitespace around
    /// commas and empty list elements are allowed. Any malformed spec, `first > last`, or a
    /// second Range line makes the whole field ignored (`.none`). `last` is clamped to
    /// `length − 1`; a range starting at or past the end, or a suffix of 0, is unsatisfiable.
    /// An empty body has no satisfiable int-range; a suffix range on it is `.none` (a 206 of
    /// zero bytes cannot be written).
    ///
    /// `If-Range`: a strong entity-tag equal to `storedETag` (a weak tag on either side never
    /// matches), or an HTTP-date equal to `storedLastModified`; otherwise `.none`.
    public static func parse(
        request p: UnsafeRawPointer, _ fields: [HeaderField], length: Int, storedETag: UnsafeRawBufferPointer?,
        storedLastModified: Int64?
    ) -> ByteRange {
        var range: (start: Int, end: Int)? = nil
        var ifRange: (start: Int, end: Int)? = nil
        for f in fields {
            if HeadFields.isNamed(p, f, "range") {
                if range != nil { return .none }
                range = (Int(f.valueStart), Int(f.valueEnd))
            } else if HeadFields.isNamed(p, f, "if-range") {
                ifRange = (Int(f.valueStart), Int(f.valueEnd))
            }
        }
        guard let range else { return .none }
        let result = parseRange(p, range.start, range.end, length: length)
        if result == .none { return .none }
        if let ifRange, !ifRangeMatches(p, ifRange.start, ifRange.end, storedETag, storedLastModified) { return .none }
        return result
    }

    /// The ranges-specifier at `start..<end` against `length` bytes.
    static func parseRange(_ p: UnsafeRawPointer, _ start: Int, _ end: Int, length: Int) -> ByteRange {
        guard end - start > 6, CacheBytes.equalsLowercase(p, start, start + 6, "bytes=") else { return .none }
        var list = ByteCursor(p, start + 6, end)
        var count = 0
        var satisfiable = 0
        var only = ByteRange.unsatisfiable
        while let spec = list.nextElement() {
            guard let r = rangeSpec(p, spec.start, spec.end) else { return .none }
            count += 1
            let resolved = resolve(r, length: length)
            if case .single = resolved {
                satisfiable += 1
                only = resolved
            } else if resolved == .none {
                only = .none
            }
        }
        if count == 0 { return .none }
        if count == 1 { return only }
        return satisfiable > 0 ? .multiple : .unsatisfiable
    }

    /// One range-spec: `first-[last]` or `-suffix`; nil when malformed or first > last.
    private static func rangeSpec(_ p: UnsafeRawPointer, _ start: Int, _ end: Int) -> (first: Int?, last: Int?)? {
        var dash = start
        while dash < end, CacheBytes.byte(p, dash) != UInt8(ascii: "-") { dash += 1 }
        guard dash < end else { return nil }
        if dash == start {
            guard let suffix = CacheBytes.decimal(p, dash + 1, end) else { return nil }
            return (nil, suffix)
        }
        guard let first = CacheBytes.decimal(p, start, dash) else { return nil }
        if dash + 1 == end { return (first, nil) }
        guard let last = CacheBytes.decimal(p, dash + 1, end), first <= last else { return nil }
        return (first, last)
    }

    /// A parsed spec against the body's length.
    private static func resolve(_ r: (first: Int?, last: Int?), length: Int) -> ByteRange {
        guard let first = r.first else {
            let suffix = r.last ?? 0
            if suffix == 0 { return .unsatisfiable }
            if length == 0 { return .none }
            return .single(first: max(0, length - suffix), last: length - 1)
        }
        guard first < length else { return .unsatisfiable }
        return .single(first: first, last: min(r.last ?? Int.max, length - 1))
    }

    /// §13.1.5: a strong entity-tag validator must equal the stored ETag strongly; a date
    /// must equal the stored Last-Modified exactly.
    private static func ifRangeMatches(
        _ p: UnsafeRawPointer, _ start: Int, _ end: Int, _ storedETag: UnsafeRawBufferPointer?, _ storedLastModified: Int64?
    ) -> Bool {
        guard end > start else { return false }
        let c = CacheBytes.byte(p, start)
        if c == UInt8(ascii: "\"") || c == UInt8(ascii: "W") && end - start >= 2 && CacheBytes.byte(p, start + 1) == UInt8(ascii: "/") {
            guard let storedETag else { return false }
            return Conditional.strongMatch(UnsafeRawBufferPointer(start: p + start, count: end - start), storedETag)
        }
        guard let date = HTTPDate.parse(p, start, end), let storedLastModified else { return false }
        return date == storedLastModified
    }
}
