/// What to do with a stored response for one request.
public enum ServeDecision: Equatable, Sendable {
    /// Serve it.
    case fresh
    /// Serve it stale now and refresh it in the background (RFC 5861 §3).
    case staleWhileRevalidate
    /// Ask the backend (a conditional request) before using it.
    case revalidate
}

extension CacheRules {
    /// Whether a stored response may answer a request, at monotonic time `now` (ns). Per hit,
    /// no allocation. In order:
    /// 1. request `no-cache`, or `Pragma: no-cache` without Cache-Control (§5.2.1.4, §5.4) → revalidate;
    /// 2. request `max-age` (§5.2.1.1): `max-age=0` always revalidates, otherwise an age above it does;
    /// 3. response `no-cache` (§5.2.2.4) → revalidate;
    /// 4. fresh (§4.2: lifetime > age), and fresh for at least the request's `min-fresh`
    ///    (§5.2.1.3; a fresh response failing it is revalidated) → fresh;
    /// 5. stale: `must-revalidate`/`proxy-revalidate`/`s-maxage` (§4.2.4) → revalidate;
    /// 6. stale by less than the request's `max-stale` (§5.2.1.2; bare: any) → fresh;
    /// 7. stale by less than `stale-while-revalidate` → staleWhileRevalidate; else revalidate.
    ///
    /// Staleness is current age − lifetime in whole seconds, and a window of N seconds covers
    /// staleness 0 ..< N: a window of 0 never serves stale.
    public static func serve(_ s: StoredFreshness, request: RequestFacts, now: UInt64) -> ServeDecision {
        if request.cc.noCache || request.pragmaNoCache { return .revalidate }
        let age = currentAge(s, now: now)
        if let m = request.cc.maxAge, m == 0 || age > m { return .revalidate }
        if s.noCache { return .revalidate }
        if s.lifetime > age {
            if let minFresh = request.cc.minFresh, s.lifetime - age < minFresh { return .revalidate }
            return .fresh
        }
        if s.mustRevalidate { return .revalidate }
        let staleness = age - s.lifetime
        if let maxStale = request.cc.maxStale, staleness < maxStale { return .fresh }
        if staleness < s.staleWhileRevalidate { return .staleWhileRevalidate }
        return .revalidate
    }

    /// May the stored response answer in place of a backend failure (5xx, connection refused,
    /// all backends down)? RFC 5861 §4: stale by less than `staleIfError` seconds; a request's
    /// own `stale-if-error` narrows the window; request `no-cache`/`max-age` do not forbid it
    /// (the client gets a stale answer, not the error). A fresh entry always may. Never when
    /// the response said `must-revalidate`/`proxy-revalidate`/`s-maxage` or `no-cache` (§4.2.4:
    /// those forbid serving without validation, whatever the reason).
    public static func mayServeOnError(_ s: StoredFreshness, request: RequestFacts, now: UInt64) -> Bool {
        var window = s.staleIfError
        if let r = request.cc.staleIfError { window = min(window, r) }
        return mayServeInstead(s, window: window, now: now)
    }

    /// May the stored response answer in place of the 503 that admission would send when the
    /// route's queue sheds? Sluice's own extension (no RFC defines it): the route's
    /// `stale_if_overloaded` window, with the same prohibitions as `mayServeOnError`. The
    /// request's directives do not change it: the alternative is an error, not a fresher copy.
    public static func mayServeWhenOverloaded(_ s: StoredFreshness, request: RequestFacts, now: UInt64) -> Bool {
        mayServeInstead(s, window: s.staleIfOverloaded, now: now)
    }

    @inline(__always)
    private static func mayServeInstead(_ s: StoredFreshness, window: Int, now: UInt64) -> Bool {
        if s.noCache { return false }
        let age = currentAge(s, now: now)
        if s.lifetime > age { return true }
        if s.mustRevalidate { return false }
        return age - s.lifetime < window
    }
}
