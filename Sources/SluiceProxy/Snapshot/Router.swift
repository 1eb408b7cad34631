import SluiceCache
import SluiceConfig

/// Matches a request to a route (first match wins) by host and path prefix, on raw bytes.
///
/// Immutable and shared; the per-worker split state (a smooth round robin per route, over the
/// configured target weights) lives in the worker.
final class Router: Sendable {
    struct Route: Sendable {
        /// Lowercase host; with `wildcard`, it is the suffix after `*.`.
        let host: [UInt8]?
        let wildcard: Bool
        let pathPrefix: [UInt8]
        /// Cluster indices; one entry unless the route splits.
        let clusters: [Int]
        /// `priority` as a `WaitQueue` lane: 0 critical, 1 normal, 2 sheddable.
        let lane: Int
        /// The route's response cache settings, or nil: not cached.
        let cache: RouteCache?
    }

    let routes: [Route]

    init(_ configs: [RouteConfig], clusterIndex: (String) -> Int) {
        routes = configs.map { r in
            var host = r.host.map { Array($0.utf8) }
            var wildcard = false
            if let h = r.host, h.hasPrefix("*.") {
                host = Array(h.dropFirst(1).utf8)  // keep the dot: ".store.example"
                wildcard = true
            }
            return Route(
                host: host, wildcard: wildcard, pathPrefix: Array((r.pathPrefix ?? "/").utf8),
                clusters: r.targets.map { clusterIndex($0.cluster) }, lane: r.priority.rawValue,
                cache: r.cache.map(RouteCache.init))
        }
    }

    /// The index of the first matching route, or nil. `host` excludes any port.
    @inline(__always)
    func match(host: UnsafeRawBufferPointer, path: UnsafeRawBufferPointer) -> Int? {
        for (i, r) in routes.enumerated() {
            if let h = r.host, !Self.hostMatches(h, wildcard: r.wildcard, host) { continue }
            if path.count < r.pathPrefix.count { continue }
            var ok = true
            r.pathPrefix.withUnsafeBufferPointer { pp in
                for k in 0..<pp.count where pp[k] != path[k] {
                    ok = false
                    break
                }
            }
            if ok { return i }
        }
        return nil
    }

    @inline(__always)
    static func hostMatches(_ pattern: [UInt8], wildcard: Bool, _ host: UnsafeRawBufferPointer) -> Bool {
        if wildcard {
            guard host.count > pattern.count else { return false }
            let off = host.count - pattern.count
            for k in 0..<pattern.count where lower(host[off + k]) != pattern[k] { return false }
            return true
        }
        guard host.count == pattern.count else { return false }
        for k in 0..<pattern.count where lower(host[k]) != pattern[k] { return false }
        return true
    }

    @inline(__always)
    static func lower(_ c: UInt8) -> UInt8 { c >= 65 && c <= 90 ? c | 0x20 : c }
}

/// A route's `cache` block as the request path reads it: the RFC 9111 policy in seconds.
final class RouteCache: Sendable {
    let policy: CachePolicy
    let coalesce: Bool

    init(_ c: RouteCacheConfig) {
        func seconds(_ ns: UInt64) -> Int { Int(ns / 1_000_000_000) }
        policy = CachePolicy(
            defaultTTL: seconds(c.defaultTTL), maxTTL: seconds(c.maxTTL), staleWhileRevalidate: seconds(c.staleWhileRevalidate),
            staleIfError: seconds(c.staleIfError), staleIfOverloaded: seconds(c.staleIfOverloaded))
        coalesce = c.coalesce
    }
}
