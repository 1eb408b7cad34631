import SluiceHTTP

/// A client's conditional GET/HEAD against a stored response (RFC 9110 §13.1.2, §13.1.3, §13.2.2).
///
/// Per hit: pure and allocation-free. The caller answers 304 when `notModified` is true.
public enum Conditional {
    /// Would the stored response make this request's preconditions answer 304?
    ///
    /// If-None-Match takes precedence (§13.2.2): `*` matches any stored response; otherwise
    /// any listed entity-tag weakly equal to `storedETag` matches (§13.1.2); a malformed list
    /// or a stored response without an ETag does not match. If-Modified-Since counts only
    /// without If-None-Match: true when `storedLastModified` ≤ the date; an invalid date, or
    /// more than one If-Modified-Since line, is ignored (§13.1.3). RFC 9111 §4.3.2 lets the
    /// caller pass the stored Date when the response had no Last-Modified.
    public static func notModified(
        request p: UnsafeRawPointer, _ fields: [HeaderField], storedETag: UnsafeRawBufferPointer?, storedLastModified: Int64?
    ) -> Bool {
        var sawIfNoneMatch = false
        var ifModifiedSince: (start: Int, end: Int)? = nil
        var imsCount = 0
        for f in fields {
            if HeadFields.isNamed(p, f, "if-none-match") {
                sawIfNoneMatch = true
                if noneMatchListMatches(p, Int(f.valueStart), Int(f.valueEnd), storedETag) { return true }
            } else if HeadFields.isNamed(p, f, "if-modified-since") {
                imsCount += 1
                ifModifiedSince = (Int(f.valueStart), Int(f.valueEnd))
            }
        }
        if sawIfNoneMatch { return false }
        guard imsCount == 1, let ims = ifModifiedSince, let lastModified = storedLastModified,
            let date = HTTPDate.parse(p, ims.start, ims.end)
        else { return false }
        return lastModified <= date
    }

    /// Weak comparison of two entity-tags (§8.8.3.2): equal opaque-tags, `W/` prefixes ignored.
    public static func weakMatch(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        let x = opaque(a)
        let y = opaque(b)
        return x.count == y.count && x.elementsEqual(y)
    }

    /// Strong comparison (§8.8.3.2): neither is weak and the opaque-tags are equal (If-Range).
    public static func strongMatch(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        !isWeak(a) && !isWeak(b) && a.count == b.count && a.elementsEqual(b)
    }

    @inline(__always)
    static func isWeak(_ t: UnsafeRawBufferPointer) -> Bool {
        t.count >= 2 && t[0] == UInt8(ascii: "W") && t[1] == UInt8(ascii: "/")
    }

    @inline(__always)
    private static func opaque(_ t: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer.SubSequence {
        isWeak(t) ? t[2...] : t[...]
    }

    /// Does one element of an If-None-Match list (`*` or entity-tags) match `stored`?
    private static func noneMatchListMatches(_ p: UnsafeRawPointer, _ start: Int, _ end: Int, _ stored: UnsafeRawBufferPointer?)
        -> Bool
    {
        var cursor = ByteCursor(p, start, end)
        while let tag = cursor.nextEntityTag() {
            if tag.end - tag.start == 1 && CacheBytes.byte(p, tag.start) == UInt8(ascii: "*") { return true }
            if let stored, weakMatch(UnsafeRawBufferPointer(start: p + tag.start, count: tag.end - tag.start), stored) {
                return true
            }
        }
        return false
    }
}

extension ByteCursor {
    /// The next member of an `If-None-Match` list (`W/"a", "b, c"`, or `*`): its bounds with
    /// `W/` and quotes; nil at the end or at the first malformed member (the rest is dropped).
    /// An entity-tag's opaque part may hold commas, so the list cannot be split on commas alone.
    mutating func nextEntityTag() -> (start: Int, end: Int)? {
        while i < end, CacheBytes.isOWS(CacheBytes.byte(p, i)) || CacheBytes.byte(p, i) == UInt8(ascii: ",") { i += 1 }
        guard i < end else { return nil }
        let s = i
        if CacheBytes.byte(p, i) == UInt8(ascii: "*") {
            i += 1
        } else {
            if end - i >= 2, CacheBytes.byte(p, i) == UInt8(ascii: "W"), CacheBytes.byte(p, i + 1) == UInt8(ascii: "/") { i += 2 }
            guard i < end, CacheBytes.byte(p, i) == UInt8(ascii: "\"") else { return fail() }
            i += 1
            while i < end, CacheBytes.byte(p, i) != UInt8(ascii: "\"") { i += 1 }
            guard i < end else { return fail() }
            i += 1
        }
        let e = i
        while i < end, CacheBytes.isOWS(CacheBytes.byte(p, i)) { i += 1 }
        guard i == end || CacheBytes.byte(p, i) == UInt8(ascii: ",") else { return fail() }
        return (s, e)
    }

    private mutating func fail() -> (start: Int, end: Int)? {
        i = end
        return nil
    }
}
