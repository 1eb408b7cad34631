import Foundation
import SluiceBalancing
import SluiceCache
import SluiceSystem

/// What one worker reports to the admin plane, gathered on its own thread: its counters by
/// name and its gauges (requests in flight, open connections).
struct WorkerReport {
    var totals = MetricTotals()
    /// Requests in flight by backend id.
    var active: [Int] = []
    /// Open client connections by listener name.
    var connections: [String: Int] = [:]

    /// Folds another worker's report into this one: counters and gauges add up.
    mutating func add(_ other: WorkerReport) {
        totals.add(other.totals)
        if active.count < other.active.count { active.append(contentsOf: repeatElement(0, count: other.active.count - active.count)) }
        for i in other.active.indices { active[i] += other.active[i] }
        connections.merge(other.connections, uniquingKeysWith: +)
    }
}

extension ProxyServer {
    /// In flight over the summed limits of the backends that may take requests now (healthy,
    /// not drained, disabled or ejected); nil without `limits`. 0 in flight over no capacity is
    /// 0; anything over none is 1 (full: scale up).
    static func utilization(_ c: ClusterRuntime, _ backends: [MetricsSample.Backend], now: UInt64) -> Double? {
        guard c.config.limits != nil else { return nil }
        var capacity = 0
        for b in c.backends where b.health.isAvailable(at: now) { capacity += c.limit(for: b) }
        let inFlight = backends.reduce(0) { $0 + $1.activeRequests } + (c.admission?.snapshot(now: now).waiting ?? 0)
        guard capacity > 0 else { return inFlight > 0 ? 1 : 0 }
        return Double(inFlight) / Double(capacity)
    }

    /// Asks every worker for its report through its task queue, waits (≤ 1 s) and folds the
    /// answers. Control thread; a worker that does not answer in time is left out.
    func collect() -> WorkerReport {
        final class Box: @unchecked Sendable {
            let lock = NSLock()
            var merged = WorkerReport()
        }
        let box = Box()
        let group = DispatchGroup()
        for w in workers {
            group.enter()
            w.loop.execute {
                let r = WorkerReport(
                    totals: w.metrics.totals(), active: w.active, connections: w.connectionsPerListener)
                box.lock.lock()
                box.merged.add(r)
                box.lock.unlock()
                group.leave()
            }
        }
        _ = group.wait(timeout: .now() + 1)
        box.lock.lock()
        defer { box.lock.unlock() }
        return box.merged
    }

    /// Reads the current snapshot, the health table and every worker into one sample for
    /// `/status` and `/metrics`. Control thread; costs one round trip to each worker.
    func sample() -> MetricsSample {
        let report = collect()
        let snap = snapshot
        let now = Clock.monotonicNanos()
        let codes = WorkerMetrics.codes
        let listeners = snap.config.listeners.enumerated().map { i, l in
            MetricsSample.Listener(
                name: l.name, listen: boundAddresses[l.name]?.description ?? l.listenText, tls: l.tls != nil,
                connections: report.connections[l.name] ?? 0,
                certificates: i < snap.tlsContexts.count ? snap.tlsContexts[i]?.expiries ?? [] : [],
                rateLimitedClusters: snap.rateLimits.byListener[i].compactMap { $0.map { snap.clusters[$0.cluster].name } })
        }
        let clusters = snap.clusters.map { c in
            let share = c.tierShare(now: now)
            let backends = c.backends.map { b in
                var responses: [(code: Int, count: Int)] = []
                if (b.id + 1) * codes <= report.totals.backendCodes.count {
                    for code in 0..<codes where report.totals.backendCodes[b.id * codes + code] > 0 {
                        responses.append((code, report.totals.backendCodes[b.id * codes + code]))
                    }
                }
                var backend = MetricsSample.Backend(
                    name: b.name, address: b.address.description, standby: b.isStandby, weight: b.weight,
                    scaledEffectiveWeight: Self.scaledEffectiveWeight(b, slowStart: c.slowStart, now: now),
                    state: Self.state(b, now: now), healthy: b.health.isHealthy,
                    activeRequests: b.id < report.active.count ? report.active[b.id] : 0, responses: responses,
                    checksPassed: b.health.passes.load(ordering: .relaxed), checksFailed: b.health.failures.load(ordering: .relaxed),
                    ejections: b.health.ejections.load(ordering: .relaxed), limit: c.config.limits == nil ? nil : c.limit(for: b))
                backend.duration = report.totals.backendDuration(b.id)
                backend.source = runtime.source(cluster: c.name, backend: b.name)
                return backend
            }
            var cluster = MetricsSample.Cluster(
                name: c.name, balance: c.balance.rawValue, healthChecked: c.healthChecked, outlierDetection: c.outlier != nil,
                retries: c.retries != nil, standbyShare: share.standby, allDown: share.allDown,
                queueDepth: c.admission?.snapshot(now: now).waiting ?? 0, backends: backends)
            cluster.utilization = Self.utilization(c, backends, now: now)
            cluster.discovery = runtime.status[c.name].map {
                MetricsSample.Discovery(
                    kind: $0.source.kind, detail: $0.source.detail, successes: $0.successes, errors: $0.errors,
                    lastResult: $0.lastResult, lastAt: $0.lastAt, lastError: $0.lastError, answered: $0.answered,
                    heldBack: $0.heldBack)
            }
            if let d = history.cluster(c.name)?.detector {
                cluster.traffic = MetricsSample.Traffic(
                    state: d.state.rawValue, rate10s: d.fastRate, rate10m: d.slowRate, etaSeconds: d.etaSeconds)
            }
            return cluster
        }
        var sample = MetricsSample(
            configPath: configPath ?? snap.config.path, generation: snap.generation, workers: workers.count,
            startedAt: startedAt, now: Date(),
            lastReload: lastReload.map { MetricsSample.Reload(success: $0.success, at: $0.at, errors: $0.errors) },
            reloadSuccesses: reloadSuccesses, reloadFailures: reloadFailures, lastReloadSuccess: lastReloadSuccess,
            listeners: listeners, clusters: clusters, totals: report.totals)
        if let store = snap.cache {
            var names: [String] = []
            for l in snap.config.listeners {
                for r in l.routes where r.cache != nil {
                    for t in r.targets where !names.contains(t.cluster) { names.append(t.cluster) }
                }
            }
            sample.cache = MetricsSample.Cache(
                bytes: store.storedBytes, objects: store.storedObjects, evictions: store.evictions, clusters: names)
        }
        return sample
    }

    /// A backend's state now, as `/status` names it.
    static func state(_ b: BackendRuntime, now: UInt64 = Clock.monotonicNanos()) -> MetricsSample.State {
        switch b.health.adminState {
        case .disabled: return .disabled
        case .draining: return .draining
        case .active:
            if !b.health.isHealthy { return .unhealthy }
            return b.health.isEjected(at: now) ? .ejected : .healthy
        }
    }

    /// The weight a backend gets now × `SlowStart.scale`: 0 when out of rotation, ramping
    /// during slow start.
    static func scaledEffectiveWeight(_ b: BackendRuntime, slowStart: UInt64, now: UInt64) -> Int {
        guard b.health.isAvailable(at: now) else { return 0 }
        return b.health.rampedScaledWeight(b.weight, now: now, slowStart: slowStart)
    }
}
