import SluiceBalancing
import SluiceCache
import SluiceConfig
import SluiceSystem
import SluiceTLS

/// Everything a request needs from the configuration, immutable and shared.
///
/// Built on the control thread; each worker holds a reference and reads it when a
/// request starts, so a reload is a reference swap and in-flight requests keep theirs.
final class Snapshot: Sendable {
    let config: Config
    let generation: Int
    let clusters: [ClusterRuntime]
    /// One router per listener, in `config.listeners` order.
    let routers: [Router]
    let backendCount: Int
    /// Backend ids this snapshot gives to new backends that earlier ones had (workers clear
    /// their counters and state for them).
    let recycled: [Int]
    /// Copies of the plain-value parts the request path reads, so it never copies `config`
    /// (a struct of arrays: every copy would retain and release them).
    let limits: GlobalLimits
    let timeouts: Timeouts
    /// Per listener: does it terminate TLS (X-Forwarded-Proto).
    let listenerTLS: [Bool]
    /// Per listener: its certificates, loaded (nil for plain HTTP).
    let tlsContexts: [TLSServerContext?]
    /// Per cluster: its `upstream_tls` client context (nil for plain HTTP to its backends).
    /// Loaded once per configuration (start, reload) and carried into the snapshots that
    /// runtime changes publish, so a file that became unreadable never turns TLS into plaintext.
    let upstreamContexts: [TLSClientContext?]
    /// Per listener and route: its `rate_limit` (tables shared by all workers, carried over
    /// from `previous` for routes whose limit did not change).
    let rateLimits: RateLimits
    /// The response cache, when a route has `cache` (carried over from `previous` while
    /// `cache.max_size` and `max_object` stay the same; a change starts an empty store).
    let cache: CacheStore?

    /// `tls` from `loadTLS(config)` and `upstream` from `loadUpstreamTLS(config)` (or the
    /// current snapshot's, for a runtime change of the same configuration's clusters);
    /// `previous`: the snapshot this one replaces (rate-limit states carry over).
    init(
        config: Config, generation: Int, registry: BackendRegistry, tls: [TLSServerContext?],
        upstream: [TLSClientContext?], previous: Snapshot? = nil
    ) {
        precondition(upstream.count == config.clusters.count, "one upstream TLS slot per cluster")
        self.config = config
        self.generation = generation
        limits = config.limits
        timeouts = config.timeouts
        listenerTLS = config.listeners.map { $0.tls != nil }
        tlsContexts = tls
        upstreamContexts = upstream
        var cs: [ClusterRuntime] = []
        for (i, c) in config.clusters.enumerated() {
            cs.append(ClusterRuntime(c, index: i, registry: registry, upstreamTLS: upstream[i]))
        }
        clusters = cs
        backendCount = registry.count
        recycled = registry.takeRecycled()
        routers = config.listeners.map { l in
            Router(l.routes, clusterIndex: { name in cs.firstIndex { $0.name == name } ?? 0 })
        }
        rateLimits = RateLimits(config, previous: previous) { name in cs.firstIndex { $0.name == name } ?? 0 }
        let m = config.cache
        if !config.listeners.contains(where: { $0.routes.contains { $0.cache != nil } }) {
            cache = nil
        } else if let old = previous?.cache, old.maxSize == m.maxSize, old.maxObject == m.maxObject {
            cache = old
        } else {
            cache = CacheStore(maxSize: m.maxSize, maxObject: m.maxObject)
        }
    }
}

extension Snapshot {
    /// Per cluster: the client context for `upstream_tls` (nil: plain HTTP to its backends).
    /// Control thread; file I/O. A failure is a configuration error, never a fallback to plaintext.
    static func loadUpstreamTLS(_ config: Config) throws(TLSError) -> [TLSClientContext?] {
        var out: [TLSClientContext?] = []
        for c in config.clusters {
            guard let u = c.upstreamTLS else {
                out.append(nil)
                continue
            }
            do {
                out.append(try TLSClientContext(caFile: u.caFile, verify: u.verify))
            } catch {
                throw TLSError(message: "cluster \(c.name) upstream_tls: \(error.message)")
            }
        }
        return out
    }

    /// Loads every TLS listener's certificates (control thread; file I/O).
    static func loadTLS(_ config: Config) throws(TLSError) -> [TLSServerContext?] {
        var out: [TLSServerContext?] = []
        for l in config.listeners {
            guard let t = l.tls else {
                out.append(nil)
                continue
            }
            do {
                out.append(
                    try TLSServerContext(certificates: t.certificates.map { ($0.cert, $0.key) }, minVersion: t.minVersion))
            } catch {
                throw TLSError(message: "listener \(l.name): \(error.message)")
            }
        }
        return out
    }
}
