import SluiceHTTP

extension CacheRules {
    /// §4.4: does this response to `method` invalidate the stored responses for its target URI?
    ///
    /// A cache must invalidate on a non-error status (2xx, 3xx) to an unsafe method. Pure;
    /// per request that is not GET/HEAD. (§4.4 also allows invalidating the URIs in
    /// `Location`/`Content-Location` of the same origin: left to the caller.)
    public static func invalidates(method: Method, status: Int) -> Bool {
        switch method {
        case .get, .head, .options, .trace: return false
        default: return status >= 200 && status < 400
        }
    }

    /// §4.3.4: may a 304 received while revalidating update the stored response whose
    /// validators are `storedETag` and `storedLastModified`?
    ///
    /// - The 304 has an ETag: a strong one must equal the stored one strongly, a weak one
    ///   must match it weakly.
    /// - Else it has a Last-Modified: it must equal the stored one.
    /// - Else (no validator): yes. §4.3.4 asks for a stored response without validators here,
    ///   but Sluice's revalidation requests carry the stored response's own validators, so a
    ///   304 to them can only refer to it (servers often omit validators from a 304).
    ///
    /// When false, the caller should treat the 304 as not applicable (refetch without
    /// conditions, or answer from the backend). Pure, allocation-free.
    public static func notModifiedUpdates(
        _ r: ResponseFacts, _ p: UnsafeRawPointer, storedETag: UnsafeRawBufferPointer?, storedLastModified: Int64?
    ) -> Bool {
        if let t = r.etag {
            guard let storedETag else { return false }
            let tag = UnsafeRawBufferPointer(start: p + t.start, count: t.end - t.start)
            return Conditional.isWeak(tag) ? Conditional.weakMatch(tag, storedETag) : Conditional.strongMatch(tag, storedETag)
        }
        if let lastModified = r.lastModified { return lastModified == storedLastModified }
        return true
    }
}
