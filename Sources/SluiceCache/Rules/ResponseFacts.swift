import SluiceHTTP

/// What one response head says about caching, read once when it arrives (per miss; allocates
/// only the Vary names).
///
/// When a field appears more than once, its first line is used (§4.2.1 allows "the first
/// occurrence"), except Cache-Control and Vary, which are merged lists.
public struct ResponseFacts: Sendable {
    public var status: Int
    public var cc: CacheControl
    public var hasSetCookie: Bool
    /// The Date field, seconds since 1970 (invalid or missing → nil).
    public var date: Int64?
    /// The Expires field; an invalid value means "already expired" (§5.3) and reads as 0.
    public var expires: Int64?
    public var hasExpires: Bool
    /// The Age field, seconds (§5.1; invalid → nil).
    public var age: Int?
    public var lastModified: Int64?
    /// Bounds of the ETag value in the head, as sent (with its quotes and any `W/`).
    public var etag: (start: Int, end: Int)?
    public var vary: VaryNames
    public var hasContentRange: Bool

    /// Facts of a head with no caching fields at all (tests and synthetic answers).
    public init(status: Int) {
        self.status = status
        cc = CacheControl()
        hasSetCookie = false
        date = nil
        expires = nil
        hasExpires = false
        age = nil
        lastModified = nil
        etag = nil
        vary = VaryNames()
        hasContentRange = false
    }

    public static func read(_ p: UnsafeRawPointer, _ fields: [HeaderField], status: Int) -> ResponseFacts {
        var r = ResponseFacts(status: status)
        r.cc = CacheControl.parse(p, fields)
        r.hasSetCookie = HeadFields.contains(p, fields, "set-cookie")
        if let d = HeadFields.find(p, fields, "date") { r.date = HTTPDate.parse(p, d.start, d.end) }
        if let e = HeadFields.find(p, fields, "expires") {
            r.hasExpires = true
            r.expires = HTTPDate.parse(p, e.start, e.end) ?? 0
        }
        if let a = HeadFields.find(p, fields, "age") { r.age = CacheBytes.deltaSeconds(p, a.start, a.end) }
        if let l = HeadFields.find(p, fields, "last-modified") { r.lastModified = HTTPDate.parse(p, l.start, l.end) }
        if let t = HeadFields.find(p, fields, "etag"), t.end > t.start { r.etag = t }
        r.vary = VaryNames.parse(p, fields)
        r.hasContentRange = HeadFields.contains(p, fields, "content-range")
        return r
    }

    /// s-maxage, max-age or Expires present (§4.2.1): freshness the response states itself.
    public var hasExplicitFreshness: Bool { cc.sMaxAge != nil || cc.maxAge != nil || hasExpires }
}
