import SluiceBalancing
import SluiceConfig
import SluiceSystem

/// One backend as a snapshot sees it. Immutable; shared by all workers.
final class BackendRuntime: Sendable {
    let name: String
    let address: SocketAddress
    let weight: Int
    let isStandby: Bool
    /// `host:port` as configured: the Host sent for requests that came without one (HTTP/1.0).
    let hostHeader: [UInt8]
    /// Process-wide index: workers index their idle-connection pools with it.
    let id: Int

    init(_ c: BackendConfig, isStandby: Bool, id: Int) {
        name = c.name
        address = c.address
        weight = c.weight
        self.isStandby = isStandby
        hostHeader = Array(c.addressText.utf8)
        self.id = id
    }
}

/// A cluster as a snapshot sees it. Immutable; shared by all workers.
final class ClusterRuntime: Sendable {
    let name: String
    let index: Int
    /// Primaries first, then standby.
    let backends: [BackendRuntime]
    let primaryCount: Int
    let connectTimeout: UInt64
    let responseTimeout: UInt64
    let upstreamIdleTimeout: UInt64
    let config: ClusterConfig
    let balance: BalanceAlgorithm
    /// Primaries' weights (standby 0): the tables below and each worker's round robin use them.
    let primaryWeights: [Int]
    let random: WeightedRandom
    let leastRequest: LeastRequest
    /// Built only for `balance: hash`: shared by all workers (about 256 KiB).
    let maglev: Maglev?
    /// `hash_on: header:NAME` / `cookie:NAME`, lowercased; empty for client_ip.
    let hashHeader: [UInt8]
    let hashCookie: [UInt8]

    init(_ c: ClusterConfig, index: Int, ids: BackendIDs) {
        name = c.name
        self.index = index
        var list: [BackendRuntime] = []
        for b in c.backends { list.append(BackendRuntime(b, isStandby: false, id: ids.id(c.name, b))) }
        for b in c.standby { list.append(BackendRuntime(b, isStandby: true, id: ids.id(c.name, b))) }
        backends = list
        primaryCount = c.backends.count
        connectTimeout = c.connectTimeout
        responseTimeout = c.responseTimeout
        upstreamIdleTimeout = c.upstreamIdleTimeout
        config = c
        balance = c.balance
        let weights = list.map { $0.isStandby ? 0 : $0.weight }
        primaryWeights = weights
        random = WeightedRandom(weights: weights)
        leastRequest = LeastRequest(weights: weights)
        maglev = c.balance == .hash ? Maglev(names: list.map(\.name), weights: weights) : nil
        switch c.hashOn {
        case .clientIP:
            hashHeader = []
            hashCookie = []
        case .header(let name):
            hashHeader = Array(name.lowercased().utf8)
            hashCookie = []
        case .cookie(let name):
            hashHeader = []
            hashCookie = Array(name.utf8)
        }
    }
}

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

    init(config: Config, generation: Int, ids: BackendIDs) {
        self.config = config
        self.generation = generation
        var cs: [ClusterRuntime] = []
        for (i, c) in config.clusters.enumerated() { cs.append(ClusterRuntime(c, index: i, ids: ids)) }
        clusters = cs
        backendCount = ids.count
        routers = config.listeners.map { l in
            Router(l.routes, clusterIndex: { name in cs.firstIndex { $0.name == name } ?? 0 })
        }
    }
}

/// Stable backend ids across reloads: the same cluster, name and address keep their id,
/// so a worker's pooled connections stay with the backend they belong to.
/// Control thread only.
final class BackendIDs: @unchecked Sendable {
    private var ids: [String: Int] = [:]
    private(set) var count = 0

    func id(_ cluster: String, _ b: BackendConfig) -> Int {
        let key = "\(cluster)\u{0}\(b.name)\u{0}\(b.address)"
        if let id = ids[key] { return id }
        ids[key] = count
        count += 1
        return count - 1
    }
}
