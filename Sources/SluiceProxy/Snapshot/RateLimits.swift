import SluiceBalancing
import SluiceConfig

/// One route's `rate_limit` in one snapshot: its configuration and the process-wide table of
/// its clients.
///
/// Shared by every worker (the table is lock-free); immutable apart from the table's entries.
/// A reload hands the same table to the next snapshot when the route keeps an equal
/// `rate_limit`, so nobody gets a fresh burst from a reload.
final class RouteRateLimit: Sendable {
    let config: RateLimitConfig
    let table: RateLimitTable
    /// The key field's lowercased name; empty for `client_ip`.
    let header: [UInt8]
    /// The cluster its refusals count under (`rate_limited_total`): the route's first target.
    let cluster: Int

    /// `table`: the previous snapshot's, to keep its clients' states; nil for a new one.
    init(_ config: RateLimitConfig, cluster: Int, table: RateLimitTable? = nil) {
        self.config = config
        self.cluster = cluster
        self.table = table ?? RateLimitTable(RateLimit(rate: config.rate, burst: config.burst))
        if case .header(let name) = config.key { header = Array(name.lowercased().utf8) } else { header = [] }
    }
}

/// A snapshot's rate limiters, per listener and route position (nil: the route has none).
///
/// Built on the control thread with the snapshot; read by workers at routing (one array
/// index per request).
struct RateLimits: Sendable {
    let byListener: [[RouteRateLimit?]]

    /// The limiters for `config`, taking over `previous`'s where the same listener name and
    /// route position has an equal `rate_limit` (its clients' states carry over). `cluster`
    /// resolves a cluster name to its index in the new snapshot.
    init(_ config: Config, previous: Snapshot?, cluster: (String) -> Int) {
        var old: [String: [RouteRateLimit?]] = [:]
        if let p = previous {
            for (i, l) in p.config.listeners.enumerated() { old[l.name] = p.rateLimits.byListener[i] }
        }
        byListener = config.listeners.map { l in
            let kept = old[l.name] ?? []
            return l.routes.enumerated().map { ri, r -> RouteRateLimit? in
                guard let rl = r.rateLimit else { return nil }
                let index = cluster(r.targets.first?.cluster ?? "")
                let same = ri < kept.count && kept[ri]?.config == rl
                return RouteRateLimit(rl, cluster: index, table: same ? kept[ri]?.table : nil)
            }
        }
    }
}
