import SluiceHTTP

/// Cache-Control directives (RFC 9111 §5.2, RFC 5861), merged over every Cache-Control field of a head.
///
/// Values are seconds. Parsing is pure and allocation-free (it runs per hit on the request).
/// - Unknown directives are ignored (§5.2.3); names are case-insensitive (§5.2); values may be
///   tokens or quoted-strings (`max-age="60"` is 60), and whitespace around `=` is tolerated.
/// - A delta-seconds past 2^31 becomes 2^31 (§1.2.2).
/// - `max-age` / `s-maxage` with an invalid value (`max-age=abc`, `max-age` without a value)
///   count as 0: §4.2.1 encourages treating invalid freshness information as stale. The same
///   directive twice with different values counts as 0 too (§4.2.1: "considered stale").
/// - `min-fresh` with an invalid value counts as 0; `max-stale`, `stale-while-revalidate` and
///   `stale-if-error` with an invalid value are dropped (no stale use granted). Repeated with
///   different values, the most restrictive wins (smallest window, largest `min-fresh`).
/// - Bare `max-stale` (§5.2.1.2: any staleness) is `Int.max`.
/// - The qualified forms `no-cache="field"` and `private="field"` (§5.2.2.4, §5.2.2.7) are
///   treated as the unqualified forms: Sluice does not strip the named fields from a stored
///   response, so it revalidates every use (`no-cache`) or does not store at all (`private`).
///   That is conservative: it never serves what the origin restricted.
public struct CacheControl: Equatable, Sendable {
    public var maxAge: Int?
    public var sMaxAge: Int?
    public var noStore = false
    public var noCache = false
    public var isPrivate = false
    public var isPublic = false
    public var mustRevalidate = false
    public var proxyRevalidate = false
    public var noTransform = false
    public var onlyIfCached = false
    public var immutable = false
    public var mustUnderstand = false
    /// Request: accept a response stale by this much; bare `max-stale` is `Int.max`.
    public var maxStale: Int?
    /// Request: only a response fresh for at least this much longer.
    public var minFresh: Int?
    /// RFC 5861 §3 (response).
    public var staleWhileRevalidate: Int?
    /// RFC 5861 §4 (response or request).
    public var staleIfError: Int?

    public init() {}

    /// Every Cache-Control field of the head, in order, as one list (RFC 9110 §5.3).
    public static func parse(_ p: UnsafeRawPointer, _ fields: [HeaderField]) -> CacheControl {
        var cc = CacheControl()
        for f in fields where HeadFields.isNamed(p, f, "cache-control") {
            var list = ByteCursor(p, Int(f.valueStart), Int(f.valueEnd))
            while let element = list.nextElement() { cc.apply(p, element.start, element.end) }
        }
        return cc
    }

    /// Applies one directive `name[=value]` found at `start..<end`.
    private mutating func apply(_ p: UnsafeRawPointer, _ start: Int, _ end: Int) {
        var eq = start
        while eq < end, CacheBytes.byte(p, eq) != UInt8(ascii: "=") { eq += 1 }
        let name = CacheBytes.trimmed(p, start, eq)
        let value = eq < end ? Self.unquoted(p, eq + 1, end) : nil
        let ns = name.start
        let ne = name.end
        switch ne - ns {
        case 6:
            if CacheBytes.equalsLowercase(p, ns, ne, "public") { isPublic = true }
        case 7:
            if CacheBytes.equalsLowercase(p, ns, ne, "max-age") {
                maxAge = Self.lifetime(maxAge, Self.seconds(p, value))
            } else if CacheBytes.equalsLowercase(p, ns, ne, "private") {
                isPrivate = true
            }
        case 8:
            if CacheBytes.equalsLowercase(p, ns, ne, "s-maxage") {
                sMaxAge = Self.lifetime(sMaxAge, Self.seconds(p, value))
            } else if CacheBytes.equalsLowercase(p, ns, ne, "no-store") {
                noStore = true
            } else if CacheBytes.equalsLowercase(p, ns, ne, "no-cache") {
                noCache = true
            }
        case 9:
            if CacheBytes.equalsLowercase(p, ns, ne, "max-stale") {
                let v = value == nil ? Int.max : Self.seconds(p, value)
                if let v { maxStale = min(maxStale ?? Int.max, v) }
            } else if CacheBytes.equalsLowercase(p, ns, ne, "min-fresh") {
                minFresh = max(minFresh ?? 0, Self.seconds(p, value) ?? 0)
            } else if CacheBytes.equalsLowercase(p, ns, ne, "immutable") {
                immutable = true
            }
        case 12:
            if CacheBytes.equalsLowercase(p, ns, ne, "no-transform") { noTransform = true }
        case 14:
            if CacheBytes.equalsLowercase(p, ns, ne, "only-if-cached") {
                onlyIfCached = true
            } else if CacheBytes.equalsLowercase(p, ns, ne, "stale-if-error") {
                if let v = Self.seconds(p, value) { staleIfError = min(staleIfError ?? Int.max, v) }
            }
        case 15:
            if CacheBytes.equalsLowercase(p, ns, ne, "must-revalidate") {
                mustRevalidate = true
            } else if CacheBytes.equalsLowercase(p, ns, ne, "must-understand") {
                mustUnderstand = true
            }
        case 16:
            if CacheBytes.equalsLowercase(p, ns, ne, "proxy-revalidate") { proxyRevalidate = true }
        case 22:
            if CacheBytes.equalsLowercase(p, ns, ne, "stale-while-revalidate"), let v = Self.seconds(p, value) {
                staleWhileRevalidate = min(staleWhileRevalidate ?? Int.max, v)
            }
        default:
            break
        }
    }

    /// A freshness lifetime directive seen again: invalid (nil) or conflicting → 0 (§4.2.1).
    private static func lifetime(_ current: Int?, _ new: Int?) -> Int {
        guard let new else { return 0 }
        if let current, current != new { return 0 }
        return new
    }

    /// The delta-seconds in `value`, nil when absent or invalid.
    private static func seconds(_ p: UnsafeRawPointer, _ value: (start: Int, end: Int)?) -> Int? {
        guard let value else { return nil }
        return CacheBytes.deltaSeconds(p, value.start, value.end)
    }

    /// A directive value, trimmed, without its quotes when it is a quoted-string.
    private static func unquoted(_ p: UnsafeRawPointer, _ start: Int, _ end: Int) -> (start: Int, end: Int) {
        let t = CacheBytes.trimmed(p, start, end)
        if t.end - t.start >= 2, CacheBytes.byte(p, t.start) == UInt8(ascii: "\""), CacheBytes.byte(p, t.end - 1) == UInt8(ascii: "\"") {
            return (t.start + 1, t.end - 1)
        }
        return t
    }
}
