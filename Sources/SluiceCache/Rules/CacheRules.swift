import SluiceHTTP

/// The route's cache settings, seconds.
public struct CachePolicy: Equatable, Sendable {
    /// Freshness of a response that states none (heuristically cacheable statuses only); 0: none.
    public var defaultTTL: Int
    /// Cap on any freshness lifetime.
    public var maxTTL: Int
    public var staleWhileRevalidate: Int
    public var staleIfError: Int
    public var staleIfOverloaded: Int

    public init(defaultTTL: Int = 0, maxTTL: Int = 3600, staleWhileRevalidate: Int = 0, staleIfError: Int = 0, staleIfOverloaded: Int = 0) {
        self.defaultTTL = defaultTTL
        self.maxTTL = maxTTL
        self.staleWhileRevalidate = staleWhileRevalidate
        self.staleIfError = staleIfError
        self.staleIfOverloaded = staleIfOverloaded
    }
}

/// Why a response was not stored (for `Cache-Status`, logs and metrics).
public enum NotStoredReason: String, Sendable {
    case method, status, requestNoStore, noStore, privateResponse, setCookie, authorization, varyStar, varyTooMany, partialContent,
        noFreshness
}

/// RFC 9111's rules for a shared cache, as pure functions over facts read from heads.
///
/// Pure, any thread; `serve`, `mayServeOnError` and `mayServeWhenOverloaded` are per hit and
/// allocate nothing. What each rule does:
/// - `storability` (§3, §3.5, §4.1, §5.2): only GET, complete (non-206) final responses with
///   a status cacheable by default or explicit freshness, no `no-store` either side, not
///   `private`, no `Set-Cookie`, `Authorization` only with `public`/`s-maxage`/`must-revalidate`,
///   no `Vary: *`, at most `maxVaryNames` Vary names, and some freshness to give it.
/// - `freshnessLifetime` (§4.2.1): `s-maxage`, `max-age`, `Expires − Date`, else the route's
///   `default_ttl`; capped at `max_ttl`.
/// - `initialAge` / `currentAge` (§4.2.3): Age, Date and the request's round trip, plus the
///   time spent in the store.
/// - `serve` (§4.2, §4.2.4, §5.2.1, RFC 5861 §3): fresh, stale-while-revalidate, or revalidate,
///   given the request's `no-cache`, `max-age`, `min-fresh`, `max-stale` and `Pragma`.
/// - `mayServeOnError` (RFC 5861 §4) and `mayServeWhenOverloaded` (Sluice's own): stale answers
///   in place of a failure.
public enum CacheRules {
    /// A response naming more Vary fields is not stored (`varyTooMany`): keys stay small.
    public static let maxVaryNames = 4

    /// §3: statuses that get `default_ttl` when the response states no freshness. RFC 9110
    /// §15.1 also lists 405, 414 and 501 as heuristically cacheable; Sluice stores those (and
    /// every other status: 302, 307, 4xx, 5xx) only when the response allows it explicitly,
    /// so that an error is never cached on the route's default alone.
    public static func isCacheableByDefault(_ status: Int) -> Bool {
        switch status {
        case 200, 203, 204, 300, 301, 308, 404, 410: return true
        default: return false
        }
    }

    /// Does `default_ttl` apply to this response (§4.2.2: heuristic freshness is allowed for
    /// the statuses above, and for any status marked `public`)?
    static func mayUseDefaultTTL(_ r: ResponseFacts) -> Bool {
        isCacheableByDefault(r.status) || r.cc.isPublic
    }

    /// nil: the response may be stored. Otherwise the first rule it breaks, checked in this order:
    /// 1. method: only GET responses are stored (HEAD is answered from a stored GET, never stores);
    /// 2. request `no-store` (§5.2.1.5);
    /// 3. status (§3): 206 (or a 2xx with Content-Range) → `partialContent`; 1xx and 304 (never a new entry) → `status`;
    ///    a status outside `isCacheableByDefault` needs explicit freshness or `public`;
    /// 4. response `no-store` (§5.2.2.5; `must-understand` does not lift it here: conservative);
    /// 5. `private` (§5.2.2.7, qualified or not);
    /// 6. `Set-Cookie` (a shared cache must not hand one user's cookie to another);
    /// 7. `Authorization` in the request (§3.5) without `public`, `s-maxage` or `must-revalidate`;
    /// 8. `Vary: *` (§4.1), then more than `maxVaryNames` names;
    /// 9. freshness: explicit (`s-maxage`, `max-age`, `Expires`, even when 0: stored and then
    ///    revalidated) or `default_ttl > 0` where it applies; else `noFreshness`.
    public static func storability(method: Method, request: RequestFacts, response r: ResponseFacts, policy: CachePolicy)
        -> NotStoredReason?
    {
        guard method == .get else { return .method }
        if request.cc.noStore { return .requestNoStore }
        if r.status == 206 || (r.hasContentRange && r.status < 300) { return .partialContent }
        if r.status < 200 || r.status == 304 { return .status }
        if !isCacheableByDefault(r.status) && !r.hasExplicitFreshness && !r.cc.isPublic { return .status }
        if r.cc.noStore { return .noStore }
        if r.cc.isPrivate { return .privateResponse }
        if r.hasSetCookie { return .setCookie }
        if request.hasAuthorization && !(r.cc.isPublic || r.cc.sMaxAge != nil || r.cc.mustRevalidate) { return .authorization }
        if r.vary.isStar { return .varyStar }
        if r.vary.names.count > maxVaryNames { return .varyTooMany }
        if r.hasExplicitFreshness { return nil }
        if policy.defaultTTL > 0 && mayUseDefaultTTL(r) { return nil }
        return .noFreshness
    }
}
