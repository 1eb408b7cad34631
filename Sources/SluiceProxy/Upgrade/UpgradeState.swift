import Foundation
import SluiceBalancing
import SluiceDiscovery
import SluiceSystem

/// What a running process hands to the binary that replaces it (docs/high-availability.md):
/// which inherited descriptor is which listener, and the runtime state an operator or the
/// health checks built up. One JSON document over an inherited pipe.
///
/// Backends are matched by cluster, name and address: a backend the new configuration no
/// longer has, or has at another address, starts fresh. Monotonic times (ejections, slow
/// start) are CLOCK_MONOTONIC, which is the same clock for every process of the machine.
struct UpgradeState: Codable, Equatable {
    static let currentVersion = 1

    struct Listener: Codable, Equatable {
        var name: String
        /// The bound address, for the log.
        var address: String
        /// Descriptor numbers in the new process, one per worker.
        var fds: [Int32]
    }

    struct Backend: Codable, Equatable {
        var cluster: String
        var name: String
        var address: String
        var healthy: Bool
        var passes: Int
        var failures: Int
        var consecutiveFailures: Int
        var ejectedUntil: UInt64
        var ejections: Int
        var ejectionStreak: Int
        var joinedAt: UInt64
        var newcomer: Bool
        /// `active`, `draining` or `disabled`.
        var admin: String
    }

    struct Weight: Codable, Equatable {
        var cluster: String
        var backend: String
        var weight: Int
    }

    struct Member: Codable, Equatable {
        var cluster: String
        var name: String
        var address: String
        var weight: Int
        var tier: String
        /// `dns`, `srv`, `file` or `api`, and the query or file.
        var source: String
        var detail: String
    }

    var version = UpgradeState.currentVersion
    var oldPid: Int32
    /// The old process's `/readyz` was 200: the new one, with this state, is ready at once.
    var ready: Bool
    var listeners: [Listener] = []
    /// The admin listener's descriptor in the new process.
    var admin: Int32?
    var backends: [Backend] = []
    var weights: [Weight] = []
    var members: [Member] = []
    /// Configured backends taken out with DELETE, per cluster.
    var removedConfigured: [String: [String]] = [:]
    /// "cluster\0backend" of backends that discovery or DELETE drained.
    var drainedByDiscovery: [String] = []

    func encoded() -> [UInt8] {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return Array((try? e.encode(self)) ?? Data())
    }

    static func decode(_ bytes: [UInt8]) throws -> UpgradeState {
        let s = try JSONDecoder().decode(UpgradeState.self, from: Data(bytes))
        guard s.version == currentVersion else {
            throw UpgradeFailure("state version \(s.version) from the old process; this binary reads \(currentVersion)")
        }
        return s
    }
}

/// Why an upgrade did not happen, in words for the log and `sluice upgrade`.
struct UpgradeFailure: Error, CustomStringConvertible {
    let message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}

extension BackendSource {
    init?(kind: String, detail: String) {
        switch kind {
        case "dns": self = .dns(detail)
        case "srv": self = .srv(detail)
        case "file": self = .file(detail)
        case "api": self = .api
        default: return nil
        }
    }
}

extension ProxyServer {
    /// The state to hand over, with `listeners` and `admin` already in the new process's
    /// numbering. Control thread.
    func upgradeState(listeners: [UpgradeState.Listener], admin: Int32?) -> UpgradeState {
        var s = UpgradeState(oldPid: ProcessInfoLite.pid, ready: readiness() == .ready, listeners: listeners, admin: admin)
        for c in snapshot.clusters {
            for b in c.backends {
                let h = b.health
                s.backends.append(
                    .init(
                        cluster: c.name, name: b.name, address: b.address.description, healthy: h.isHealthy,
                        passes: h.passes.load(ordering: .relaxed), failures: h.failures.load(ordering: .relaxed),
                        consecutiveFailures: h.consecutiveFailures.load(ordering: .relaxed),
                        ejectedUntil: h.ejectedUntil.load(ordering: .relaxed), ejections: h.ejections.load(ordering: .relaxed),
                        ejectionStreak: h.ejectionStreak.load(ordering: .relaxed), joinedAt: h.joinedAt.load(ordering: .relaxed),
                        newcomer: h.newcomer.load(ordering: .relaxed), admin: "\(h.adminState)"))
            }
        }
        for (key, w) in runtimeWeights.sorted(by: { $0.key < $1.key }) {
            let parts = key.split(separator: "\u{0}", maxSplits: 1).map(String.init)
            if parts.count == 2 { s.weights.append(.init(cluster: parts[0], backend: parts[1], weight: w)) }
        }
        for (cluster, m) in runtime.memberships.sorted(by: { $0.key < $1.key }) {
            // Leaving members are not carried: the new process would have no drain to finish.
            for member in m.members where member.isServing {
                let b = member.backend
                s.members.append(
                    .init(
                        cluster: cluster, name: b.name, address: b.address.description, weight: b.weight, tier: b.tier.rawValue,
                        source: member.source.kind, detail: member.source.detail))
            }
        }
        s.removedConfigured = runtime.removedConfigured.mapValues { $0.sorted() }
        s.drainedByDiscovery = runtime.drainedByDiscovery.sorted()
        return s
    }

    /// Takes over `state` before `start()`: runtime weights and members first (they change
    /// the snapshot), then each backend's health, ejection and admin state. What no longer
    /// matches the configuration is dropped, with a count in the log. Control thread.
    func restore(_ state: UpgradeState) {
        var ignored = 0
        for w in state.weights {
            guard let ci = fileConfig.clusters.firstIndex(where: { $0.name == w.cluster }) else {
                ignored += 1
                continue
            }
            if let bi = fileConfig.clusters[ci].backends.firstIndex(where: { $0.name == w.backend }) {
                fileConfig.clusters[ci].backends[bi].weight = w.weight
            } else if let bi = fileConfig.clusters[ci].standby.firstIndex(where: { $0.name == w.backend }) {
                fileConfig.clusters[ci].standby[bi].weight = w.weight
            } else {
                ignored += 1
                continue
            }
            runtimeWeights[RuntimeBackends.key(w.cluster, w.backend)] = w.weight
        }
        for m in state.members {
            guard let c = fileConfig.clusters.first(where: { $0.name == m.cluster }),
                let address = SocketAddress.numeric(m.address), let source = BackendSource(kind: m.source, detail: m.detail),
                let tier = BackendTier(rawValue: m.tier), !reserved(c).contains(m.name)
            else {
                ignored += 1
                continue
            }
            // A discovered member only while the cluster still discovers from that source.
            if source != .api && c.discovery.map(BackendSource.init) != source {
                ignored += 1
                continue
            }
            var membership = membership(of: c)
            membership.restore(
                .init(backend: DiscoveredBackend(name: m.name, address: address, weight: m.weight, tier: tier), source: source))
            runtime.memberships[c.name] = membership
        }
        for (cluster, names) in state.removedConfigured where fileConfig.clusters.contains(where: { $0.name == cluster }) {
            runtime.removedConfigured[cluster] = Set(names)
        }
        runtime.drainedByDiscovery = Set(state.drainedByDiscovery)
        let snap = Snapshot(
            config: runtime.effective(fileConfig), generation: snapshot.generation, registry: registry, tls: snapshot.tlsContexts,
            upstream: snapshot.upstreamContexts, previous: snapshot)
        snapshot = snap
        var carried = 0
        var byKey: [String: UpgradeState.Backend] = [:]
        for b in state.backends { byKey["\(b.cluster)\u{0}\(b.name)\u{0}\(b.address)"] = b }
        for c in snap.clusters {
            for b in c.backends {
                guard let o = byKey["\(c.name)\u{0}\(b.name)\u{0}\(b.address)"] else { continue }
                carried += 1
                let h = b.health
                h.set(healthy: o.healthy)
                h.counter = HealthCounter(healthy: o.healthy, rise: h.counter.rise, fall: h.counter.fall)
                h.passes.store(o.passes, ordering: .relaxed)
                h.failures.store(o.failures, ordering: .relaxed)
                h.consecutiveFailures.store(o.consecutiveFailures, ordering: .relaxed)
                h.ejectedUntil.store(o.ejectedUntil, ordering: .relaxed)
                h.ejections.store(o.ejections, ordering: .relaxed)
                h.ejectionStreak.store(o.ejectionStreak, ordering: .relaxed)
                if o.ejections > 0 { registry.ejectionsMade.wrappingAdd(o.ejections, ordering: .relaxed) }
                let admin: BackendHealth.AdminState =
                    switch o.admin {
                    case "draining": .draining
                    case "disabled": .disabled
                    default: .active
                    }
                registry.set(h, adminState: admin, restartSlowStart: false)
                h.joinedAt.store(o.joinedAt, ordering: .relaxed)
                h.newcomer.store(o.newcomer, ordering: .relaxed)
            }
        }
        registry.healthChanged()
        if state.ready { readySince = Date() }
        logger.notice(
            "upgrade: state taken over from the previous process",
            metadata: [
                "old_pid": "\(state.oldPid)", "backends": "\(carried) of \(state.backends.count)", "members": "\(state.members.count)",
                "weights": "\(state.weights.count)", "ignored": "\(ignored)",
            ])
    }
}
