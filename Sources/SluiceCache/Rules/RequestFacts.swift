import SluiceHTTP

/// What one request head says about caching (per hit: no allocation).
public struct RequestFacts: Sendable {
    public var cc: CacheControl
    public var hasAuthorization: Bool
    /// `Pragma: no-cache`, counted only when the request has no Cache-Control field (§5.4).
    public var pragmaNoCache: Bool
    /// If-None-Match or If-Modified-Since present.
    public var hasConditional: Bool
    public var hasRange: Bool

    public init() {
        cc = CacheControl()
        hasAuthorization = false
        pragmaNoCache = false
        hasConditional = false
        hasRange = false
    }

    public static func read(_ p: UnsafeRawPointer, _ fields: [HeaderField]) -> RequestFacts {
        var r = RequestFacts()
        r.cc = CacheControl.parse(p, fields)
        var sawCacheControl = false
        var pragma = false
        for f in fields {
            switch Int(f.nameEnd) - Int(f.nameStart) {
            case 5:
                if HeadFields.isNamed(p, f, "range") { r.hasRange = true }
            case 6:
                if HeadFields.isNamed(p, f, "pragma"), hasNoCache(p, f) { pragma = true }
            case 13:
                if HeadFields.isNamed(p, f, "authorization") {
                    r.hasAuthorization = true
                } else if HeadFields.isNamed(p, f, "cache-control") {
                    sawCacheControl = true
                } else if HeadFields.isNamed(p, f, "if-none-match") {
                    r.hasConditional = true
                }
            case 17:
                if HeadFields.isNamed(p, f, "if-modified-since") { r.hasConditional = true }
            default:
                break
            }
        }
        r.pragmaNoCache = pragma && !sawCacheControl
        return r
    }

    private static func hasNoCache(_ p: UnsafeRawPointer, _ f: HeaderField) -> Bool {
        var list = ByteCursor(p, Int(f.valueStart), Int(f.valueEnd))
        while let e = list.nextElement() {
            if CacheBytes.equalsLowercase(p, e.start, e.end, "no-cache") { return true }
        }
        return false
    }
}
