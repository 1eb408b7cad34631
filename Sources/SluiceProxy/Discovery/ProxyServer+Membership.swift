import Foundation
import Logging
import SluiceConfig
import SluiceDiscovery
import SluiceSystem

/// Runtime backends on the control thread: a source's answer, the once-a-second removal of
/// drained members, and what a reload does to them (docs/discovery.md).
extension ProxyServer {
    /// How long a departed member's state is kept: max(30 s, 3 × refresh).
    static func grace(_ c: ClusterConfig) -> UInt64 {
        max(30_000_000_000, 3 * (c.discovery?.refresh ?? 10_000_000_000))
    }

    func membership(of c: ClusterConfig) -> Membership {
        runtime.memberships[c.name] ?? Membership(grace: Self.grace(c))
    }

    /// Configured names a runtime backend may not take (less those removed with DELETE).
    func reserved(_ c: ClusterConfig) -> Set<String> {
        RuntimeBackends.reserved(c).subtracting(runtime.removedConfigured[c.name] ?? [])
    }

    /// A refresh of `cluster`'s `source`: a good answer is reconciled (with `max_removed`), a
    /// failure keeps the last known set and is logged once per error text.
    func discovered(_ result: Result<DiscoveryAnswer, DiscoveryError>, cluster name: String, source: BackendSource) {
        // An answer for a source a reload replaced is stale.
        guard let c = fileConfig.clusters.first(where: { $0.name == name }), let d = c.discovery, BackendSource(d) == source
        else { return }
        var st = runtime.status[name] ?? DiscoveryStatus(source: source)
        st.lastAt = Date()
        let meta: Logger.Metadata = ["cluster": "\(name)", "source": "\(source)"]
        switch result {
        case .failure(let e):
            st.errors += 1
            st.lastResult = "error"
            if st.lastError != e.message {
                logger.error("discovery failed, keeping the last known backends: \(e.message)", metadata: meta)
            }
            st.lastError = e.message
            runtime.status[name] = st
        case .success(let answer):
            st.successes += 1
            st.lastResult = "success"
            if st.lastError != nil { logger.notice("discovery answers again", metadata: meta) }
            st.lastError = nil
            st.answered = answer.backends.count
            var m = membership(of: c)
            let changes = m.reconcile(
                source: source, desired: answer.backends, maxRemoved: d.maxRemoved, reserved: reserved(c),
                now: Clock.monotonicNanos())
            runtime.memberships[name] = m
            if changes.heldBack > 0 && changes.heldBack != st.heldBack {
                logger.warning(
                    "max_removed: \(changes.heldBack) backend(s) gone from the source stay until a later refresh", metadata: meta)
            }
            st.heldBack = changes.heldBack
            for n in changes.skipped where !st.skippedLogged.contains(n) {
                logger.warning("discovery: \"\(n)\" is the name of a configured or another source's backend; skipped", metadata: meta)
                st.skippedLogged.insert(n)
            }
            runtime.status[name] = st
            applyMembership(changes, cluster: name)
        }
    }

    /// Carries out one cluster's changes: forgotten state dropped, a snapshot published when
    /// the set changed, then drains and undrains on the shared health. Control thread.
    func applyMembership(_ changes: MembershipChanges, cluster: String) {
        guard !changes.isEmpty else { return }
        let members = runtime.memberships[cluster]
        let configured = fileConfig.clusters.first { $0.name == cluster }.map { $0.backends + $0.standby } ?? []
        for n in changes.forgotten {
            // What a member or a configured backend of that name uses now stays.
            let keep = members?.member(named: n)?.backend.address ?? configured.first { $0.name == n }?.address
            registry.forget(cluster: cluster, name: n, keep: keep)
            if keep == nil { runtime.drainedByDiscovery.remove(RuntimeBackends.key(cluster, n)) }
        }
        for n in changes.readdressed {
            // The old address's state goes; the new address joins fresh.
            registry.forget(cluster: cluster, name: n, keep: members?.member(named: n)?.backend.address)
            runtime.drainedByDiscovery.remove(RuntimeBackends.key(cluster, n))
        }
        let setChanged =
            !(changes.joined.isEmpty && changes.rejoined.isEmpty && changes.updated.isEmpty && changes.readdressed.isEmpty
            && changes.removed.isEmpty)
        if setChanged { publish(runtime.effective(fileConfig), generation: snapshot.generation) }
        let c = snapshot.clusters.first { $0.name == cluster }
        func health(_ n: String) -> BackendHealth? { c?.backends.first { $0.name == n }?.health }
        for n in changes.leaving {
            guard let h = health(n), h.adminState == .active else { continue }
            registry.set(h, adminState: .draining)
            runtime.drainedByDiscovery.insert(RuntimeBackends.key(cluster, n))
        }
        for n in changes.rejoined where runtime.drainedByDiscovery.remove(RuntimeBackends.key(cluster, n)) != nil {
            if let h = health(n), h.adminState == .draining { registry.set(h, adminState: .active, restartSlowStart: false) }
        }
        // One log line per backend; one history event per kind of change, so that a scale
        // step of 100 backends does not push everything else out of /history's events.
        func note(_ names: [String], _ what: String) {
            guard !names.isEmpty else { return }
            var sources: [String] = []
            for n in names {
                let source = (members?.member(named: n)?.source ?? members?.departed[n]?.source)?.description ?? "config"
                if !sources.contains(source) { sources.append(source) }
                logger.notice("\(what)", metadata: ["cluster": "\(cluster)", "backend": "\(n)", "source": "\(source)"])
            }
            let shown = names.prefix(5).joined(separator: ", ") + (names.count > 5 ? " and \(names.count - 5) more" : "")
            history.note(
                HistoryEvent(
                    t: Date().timeIntervalSince1970, kind: .discovery, cluster: cluster, backend: names.count == 1 ? names[0] : nil,
                    text: "\(what): \(shown) (\(sources.joined(separator: ", ")))"))
        }
        note(changes.joined, "backend joined")
        note(changes.rejoined, "backend rejoined within its grace (state kept)")
        note(changes.readdressed, "backend readdressed (joins fresh)")
        note(changes.updated, "backend weight or tier changed")
        note(changes.leaving, "backend leaving: draining")
        note(changes.removed, "backend removed")
    }

    /// Once a second (control loop, with the history tick's sample): leaving members without
    /// a request in flight, or past `timeouts.drain`, are removed; departed ones past their
    /// grace are forgotten.
    func tickMembership(_ sample: MetricsSample) {
        let now = Clock.monotonicNanos()
        for name in Array(runtime.memberships.keys) {
            guard var m = runtime.memberships[name] else { continue }
            var active: [String: Int] = [:]
            for b in sample.clusters.first(where: { $0.name == name })?.backends ?? [] { active[b.name] = b.activeRequests }
            let changes = m.tick(now: now, drainTimeout: snapshot.timeouts.drain) { (active[$0] ?? 0) == 0 }
            runtime.memberships[name] = m
            applyMembership(changes, cluster: name)
        }
    }

    /// After a reload's snapshot: a configured backend that discovery or DELETE had drained
    /// (taken out until this reload) is in rotation again, ramping under slow start.
    func undrainConfigured() {
        for c in snapshot.clusters {
            let names = Set((fileConfig.clusters.first { $0.name == c.name }).map { RuntimeBackends.reserved($0) } ?? [])
            for b in c.backends where names.contains(b.name) {
                guard runtime.drainedByDiscovery.remove(RuntimeBackends.key(c.name, b.name)) != nil else { continue }
                if b.health.adminState == .draining { registry.set(b.health, adminState: .active) }
            }
        }
    }

    /// What a reload does to the runtime backends, before its snapshot is built: a cluster
    /// that is gone takes its members along; members whose names the file now uses are
    /// dropped (the file wins); a changed source adopts the old one's members, a removed one
    /// drains them. Returns the changes to carry out once the snapshot is in place.
    func rebaseRuntime(on config: Config) -> [(String, MembershipChanges)] {
        runtime.removedConfigured = [:]
        let now = Clock.monotonicNanos()
        var out: [(String, MembershipChanges)] = []
        for name in Array(runtime.memberships.keys) {
            guard var m = runtime.memberships[name] else { continue }
            guard let c = config.clusters.first(where: { $0.name == name }) else {
                if !m.members.isEmpty {
                    logger.notice(
                        "cluster removed by the reload: its runtime backends go with it",
                        metadata: ["cluster": "\(name)", "backends": "\(m.members.map(\.backend.name).joined(separator: ","))"])
                }
                for member in m.members { registry.forget(cluster: name, name: member.backend.name) }
                runtime.memberships[name] = nil
                runtime.status[name] = nil
                continue
            }
            let old = fileConfig.clusters.first { $0.name == name }?.discovery.map(BackendSource.init)
            let new = c.discovery.map(BackendSource.init)
            if old != new, let old {
                if let new {
                    m.adopt(from: old, to: new)
                    // Counters carry over (a counter never goes back); the rest starts over.
                    var st = DiscoveryStatus(source: new)
                    st.successes = runtime.status[name]?.successes ?? 0
                    st.errors = runtime.status[name]?.errors ?? 0
                    runtime.status[name] = st
                } else {
                    out.append((name, m.drop(source: old, now: now)))
                    runtime.status[name] = nil
                }
            }
            let taken = RuntimeBackends.reserved(c).filter { m.member(named: $0) != nil }
            if !taken.isEmpty {
                logger.notice(
                    "the reloaded file names runtime backends: the file's replace them",
                    metadata: ["cluster": "\(name)", "backends": "\(taken.sorted().joined(separator: ","))"])
                out.append((name, m.dropNamed(taken)))
            }
            m.grace = Self.grace(c)
            runtime.memberships[name] = m
        }
        return out
    }
}
