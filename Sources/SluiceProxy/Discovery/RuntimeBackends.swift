import Foundation
import SluiceConfig
import SluiceDiscovery
import SluiceSystem

/// The backends that are not in the configuration file: discovered ones and those added with
/// `POST /clusters/C/backends`, per cluster name, plus what discovery did to them. Control
/// thread only (docs/discovery.md "Threads and state").
struct RuntimeBackends {
    /// Per cluster name: its runtime members (serving and leaving), and departed ones in grace.
    var memberships: [String: Membership] = [:]
    /// "cluster\0backend" of backends that discovery (or DELETE) drained: a rejoin undoes only
    /// this drain, never an operator's.
    var drainedByDiscovery: Set<String> = []
    /// Per cluster: configured backends taken out with DELETE (until the next reload).
    var removedConfigured: [String: Set<String>] = [:]
    /// Per cluster with discovery: the last refresh and the counters of `discovery_refreshes_total`.
    var status: [String: DiscoveryStatus] = [:]

    static func key(_ cluster: String, _ backend: String) -> String { "\(cluster)\u{0}\(backend)" }

    /// The configuration the snapshot is built from: the file's (with runtime weights), each
    /// cluster's configured backends less those removed at run time, its members appended to
    /// `backends` (primary) or `standby`.
    func effective(_ file: Config) -> Config {
        var config = file
        for i in config.clusters.indices {
            let name = config.clusters[i].name
            if let gone = removedConfigured[name], !gone.isEmpty {
                config.clusters[i].backends.removeAll { gone.contains($0.name) }
                config.clusters[i].standby.removeAll { gone.contains($0.name) }
            }
            guard let m = memberships[name] else { continue }
            for member in m.members {
                let b = member.backend
                let c = BackendConfig(name: b.name, addressText: b.address.description, address: b.address, weight: b.weight)
                if b.tier == .standby { config.clusters[i].standby.append(c) } else { config.clusters[i].backends.append(c) }
            }
        }
        return config
    }

    /// The configured names of `cluster` in `file` (a discovered or added backend may not take one).
    static func reserved(_ cluster: ClusterConfig) -> Set<String> {
        Set(cluster.backends.map(\.name) + cluster.standby.map(\.name))
    }

    /// `config`, `dns`, `srv`, `file` or `api` for `/status` and the dashboard.
    func source(cluster: String, backend: String) -> String {
        memberships[cluster]?.member(named: backend)?.source.kind ?? "config"
    }
}

/// One cluster's discovery as `/status` shows it, and its refresh counters.
struct DiscoveryStatus {
    var source: BackendSource
    var successes = 0
    var errors = 0
    var lastResult: String? = nil
    var lastAt: Date? = nil
    /// The error of the last failed refresh, until a refresh succeeds (logged once per text).
    var lastError: String? = nil
    /// Backends in the last good answer.
    var answered = 0
    /// Removals waiting for a later refresh (`max_removed`).
    var heldBack = 0
    /// Names skipped (a configured backend's), each logged once.
    var skippedLogged: Set<String> = []
}

extension BackendSource {
    /// The source of a cluster's `discovery` block.
    init(_ d: DiscoveryConfig) {
        switch d.source {
        case .dns(let host, let port): self = .dns("\(host):\(port)")
        case .srv(let name): self = .srv(name)
        case .file(let path): self = .file(path)
        }
    }
}
