/// The cache parts of the hot-page configs: each balancer's closest equivalent of a shared
/// cache with coalescing and stale serving. Every target marks its answers so the load
/// generator can tell hits (`CacheStatus`). Pure; any thread.
///
/// | | sluice | HAProxy 2.6 | nginx 1.22 |
/// |---|---|---|---|
/// | store | top-level `cache: { max_size, max_object }` | `cache hot` section (`total-max-size`, `max-object-size`, `max-age`) | `proxy_cache_path … keys_zone=hot` |
/// | coalescing | route `cache.coalesce: true` | none | `proxy_cache_lock on` |
/// | stale while refreshing | `stale_while_revalidate` | none | `proxy_cache_use_stale updating` + `proxy_cache_background_update on` |
/// | stale on error | `stale_if_error` | none | `proxy_cache_use_stale error timeout http_500 … http_504` |
/// | revalidation | `If-None-Match` / `If-Modified-Since` | none (a stale entry is fetched again) | `proxy_cache_revalidate on` |
/// | hit marking | `Cache-Status: sluice; hit` | `X-Cache-Status: HIT` if `res.cache_hit` | `X-Cache-Status: $upstream_cache_status` (HIT, STALE, UPDATING count) |
extension CaseConfigs {
    /// Sluice's cached route for the hot page's URLs (route `cache:` of DESIGN.md).
    static func sluiceCacheRoute(_ c: CacheSettings) -> String {
        let cache =
            "{ default_ttl: 0s, max_ttl: 1h, stale_while_revalidate: \(c.staleWhileRevalidate)s, "
            + "stale_if_error: \(c.staleIfError)s, stale_if_overloaded: \(c.staleIfError)s, coalesce: true }"
        return "      - { match: { path_prefix: /products/ }, cluster: app, cache: \(cache) }"
    }

    /// Sluice's top-level cache memory: far more than 20 small answers need.
    static let sluiceCacheMemory = "cache: { max_size: 64MiB, max_object: 1MiB }"

    /// HAProxy's `cache` section. `max-age` only caps what the response states.
    static func haproxyCacheSection(_ c: CacheSettings) -> String {
        """
        cache hot
            total-max-size 64
            max-object-size 1048576
            max-age \(max(60, c.maxAge))
        """
    }

    /// HAProxy's frontend rules: look up, store, and mark hits.
    static let haproxyCacheRules = [
        "    http-request cache-use hot",
        "    http-response cache-store hot",
        "    http-after-response set-header X-Cache-Status HIT if { res.cache_hit }",
        "    http-after-response set-header X-Cache-Status MISS unless { res.cache_hit }",
    ]

    /// nginx's cache zone, on disk under the run's work folder; entries outlive the outage.
    static func nginxCachePath(_ c: CacheSettings, workDir: String) -> String {
        "    proxy_cache_path \(workDir)/nginx-cache levels=1:2 keys_zone=hot:10m max_size=64m "
            + "inactive=\(max(600, 10 * c.staleIfError))s use_temp_path=off;"
    }

    /// nginx's cache directives in the location (the list plus revalidation).
    static let nginxCacheDirectives = """
                    proxy_cache hot;
                    proxy_cache_lock on;
                    proxy_cache_use_stale updating error timeout http_500 http_502 http_503 http_504;
                    proxy_cache_background_update on;
                    proxy_cache_revalidate on;
                    add_header X-Cache-Status $upstream_cache_status always;
        """
}
