/// Freshness facts of a stored response, computed when it is stored.
///
/// Times are the proxy's monotonic clock in ns; lifetimes, ages and windows are seconds.
public struct StoredFreshness: Equatable, Sendable {
    /// Freshness lifetime (§4.2.1), capped at the policy's `maxTTL`.
    public var lifetime: Int
    /// corrected_initial_age (§4.2.3).
    public var initialAge: Int
    /// response_time on the monotonic clock, ns.
    public var storedAt: UInt64
    /// must-revalidate, proxy-revalidate or s-maxage present (§4.2.4, §5.2.2.2, §5.2.2.8,
    /// §5.2.2.10): never served stale, not even on error.
    public var mustRevalidate: Bool
    /// Response `no-cache` (§5.2.2.4): every use is revalidated first, and never served stale.
    public var noCache: Bool
    /// The response's `stale-while-revalidate`, else the policy's.
    public var staleWhileRevalidate: Int
    /// The response's `stale-if-error`, else the policy's.
    public var staleIfError: Int
    /// The policy's `stale_if_overloaded` (no response directive exists); 0 when mustRevalidate.
    public var staleIfOverloaded: Int

    public init(
        lifetime: Int, initialAge: Int, storedAt: UInt64, mustRevalidate: Bool, noCache: Bool, staleWhileRevalidate: Int,
        staleIfError: Int, staleIfOverloaded: Int
    ) {
        self.lifetime = lifetime
        self.initialAge = initialAge
        self.storedAt = storedAt
        self.mustRevalidate = mustRevalidate
        self.noCache = noCache
        self.staleWhileRevalidate = staleWhileRevalidate
        self.staleIfError = staleIfError
        self.staleIfOverloaded = staleIfOverloaded
    }
}

extension CacheRules {
    /// §4.2.1: `s-maxage`, then `max-age`, then `Expires − Date` (Date missing or invalid: the
    /// response time, §4.2.1 "the time the response was received"), else `default_ttl` where
    /// §4.2.2 allows heuristics (`mayUseDefaultTTL`); at most `maxTTL`, never negative.
    public static func freshnessLifetime(_ r: ResponseFacts, policy: CachePolicy, responseTimeWall: Int64) -> Int {
        let seconds: Int
        if let s = r.cc.sMaxAge {
            seconds = s
        } else if let m = r.cc.maxAge {
            seconds = m
        } else if r.hasExpires {
            let expires = r.expires ?? 0
            let diff = expires - (r.date ?? responseTimeWall)
            seconds = Int(clamping: max(0, min(diff, Int64(Int32.max))))
        } else if mayUseDefaultTTL(r) {
            seconds = policy.defaultTTL
        } else {
            seconds = 0
        }
        return max(0, min(seconds, policy.maxTTL))
    }

    /// §4.2.3, wall-clock seconds:
    /// apparent_age = max(0, response_time − date_value) (0 without a Date);
    /// response_delay = response_time − request_time (never negative);
    /// corrected_age_value = age_value + response_delay;
    /// corrected_initial_age = max(apparent_age, corrected_age_value).
    public static func initialAge(_ r: ResponseFacts, requestTimeWall: Int64, responseTimeWall: Int64) -> Int {
        let apparent = r.date.map { max(0, responseTimeWall - $0) } ?? 0
        let delay = max(0, responseTimeWall - requestTimeWall)
        let corrected = Int64(r.age ?? 0) + delay
        return Int(clamping: max(apparent, corrected))
    }

    /// All freshness facts for storing `r`, received at `responseTimeWall` (wall clock,
    /// seconds) and `storedAt` (monotonic ns) for a request sent at `requestTimeWall`.
    public static func storedFreshness(
        _ r: ResponseFacts, policy: CachePolicy, requestTimeWall: Int64, responseTimeWall: Int64, storedAt: UInt64
    ) -> StoredFreshness {
        let mustRevalidate = r.cc.mustRevalidate || r.cc.proxyRevalidate || r.cc.sMaxAge != nil
        return StoredFreshness(
            lifetime: freshnessLifetime(r, policy: policy, responseTimeWall: responseTimeWall),
            initialAge: initialAge(r, requestTimeWall: requestTimeWall, responseTimeWall: responseTimeWall),
            storedAt: storedAt,
            mustRevalidate: mustRevalidate,
            noCache: r.cc.noCache,
            staleWhileRevalidate: r.cc.staleWhileRevalidate ?? policy.staleWhileRevalidate,
            staleIfError: r.cc.staleIfError ?? policy.staleIfError,
            staleIfOverloaded: mustRevalidate ? 0 : policy.staleIfOverloaded)
    }

    /// current_age = corrected_initial_age + resident_time (§4.2.3), whole seconds rounded down.
    /// A `now` before `storedAt` (another worker's earlier clock read) counts as no resident time.
    @inline(__always)
    public static func currentAge(_ s: StoredFreshness, now: UInt64) -> Int {
        let resident = now > s.storedAt ? Int((now - s.storedAt) / 1_000_000_000) : 0
        return s.initialAge &+ resident
    }
}
