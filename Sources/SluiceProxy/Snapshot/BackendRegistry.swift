import Logging
import SluiceBalancing
import SluiceConfig
import SluiceSystem
import Synchronization

/// A backend's health, shared by the checker that writes it and the workers that read it.
///
/// `healthy` is one relaxed atomic load per read. `counter` belongs to the checker's
/// thread (a backend's checks always run on worker `id % workers`).
final class BackendHealth: @unchecked Sendable {
    /// Runtime state set through the admin API; survives reloads like health does.
    enum AdminState: UInt8 { case active = 0, draining = 1, disabled = 2 }

    private let flag: Atomic<Bool>
    private let admin = Atomic<UInt8>(0)
    let passes = Atomic<Int>(0)
    let failures = Atomic<Int>(0)
    /// Touched only by this backend's checker thread.
    var counter: HealthCounter
    /// Outlier detection (passive health): failures in a row seen by any worker, the monotonic
    /// time an ejection ends, and how many ejections so far (each one lasts twice as long).
    let consecutiveFailures = Atomic<Int>(0)
    let ejectedUntil = Atomic<UInt64>(0)
    let ejections = Atomic<Int>(0)
    /// Ejections in a row without a quiet `max_ejection` between them (the doubling exponent).
    let ejectionStreak = Atomic<Int>(0)
    /// When "max_ejected reached" was last logged for this backend (once per 10 s at most).
    let refusedEjectionLoggedAt = Atomic<UInt64>(0)
    /// When the backend last (re)joined rotation (monotonic ns; 0: since process start): slow start.
    let joinedAt = Atomic<UInt64>(0)
    /// Requests in flight at this backend on all workers (DESIGN §2 `limits`: every figure is
    /// for the whole process). Counted only for clusters with `limits`; a request takes a slot
    /// with one atomic add and gives it back with one subtract (sequentially consistent: see
    /// `ClusterAdmission.waiting`).
    let inFlight = Atomic<Int>(0)
    /// `limits.adaptive`: latency samples in, the backend's current limit out.
    let adaptive = AdaptiveLimit()
    /// Added at run time and not yet through its first slow start: capacity being added, so
    /// it does not count as lost primary capacity in the failover share (`tierShare`).
    let newcomer = Atomic<Bool>(false)

    init(healthy: Bool, rise: Int, fall: Int) {
        flag = Atomic(healthy)
        counter = HealthCounter(healthy: healthy, rise: rise, fall: fall)
    }

    @inline(__always)
    var isHealthy: Bool { flag.load(ordering: .relaxed) }

    func set(healthy: Bool) { flag.store(healthy, ordering: .relaxed) }

    var adminState: AdminState { AdminState(rawValue: admin.load(ordering: .relaxed)) ?? .active }

    func set(adminState: AdminState) { admin.store(adminState.rawValue, ordering: .relaxed) }

    /// Healthy and not drained or disabled: may take new requests.
    @inline(__always)
    var isAvailable: Bool { flag.load(ordering: .relaxed) && admin.load(ordering: .relaxed) == 0 }

    /// Available and not ejected at monotonic time `now`.
    @inline(__always)
    func isAvailable(at now: UInt64) -> Bool { isAvailable && ejectedUntil.load(ordering: .relaxed) <= now }

    @inline(__always)
    func isEjected(at now: UInt64) -> Bool { ejectedUntil.load(ordering: .relaxed) > now }

    /// `weight` under slow start at `now`, in units of 1/`SlowStart.scale`: the later of
    /// joining and the end of an ejection counts.
    @inline(__always)
    func rampedScaledWeight(_ weight: Int, now: UInt64, slowStart: UInt64) -> Int {
        guard slowStart > 0 else { return weight * SlowStart.scale }
        let join = max(joinedAt.load(ordering: .relaxed), ejectedUntil.load(ordering: .relaxed))
        guard join > 0 else { return weight * SlowStart.scale }  // in rotation since the process started
        return SlowStart.scaledWeight(weight, elapsed: now > join ? now - join : 0, duration: slowStart)
    }
}

/// Backend identities and health that outlive snapshots: the same cluster, name and address
/// keep their id (pools stay with their backend) and their health across reloads.
///
/// `id(...)` is called by the control thread while it builds a snapshot; `generation` is
/// bumped by checkers on any health change, so workers recompute failover shares only then.
final class BackendRegistry: @unchecked Sendable {
    private var ids: [String: Int] = [:]
    private var healths: [Int: BackendHealth] = [:]
    private(set) var count = 0
    /// Ids of forgotten backends, reusable from `at` (monotonic ns) on: per-worker arrays are
    /// indexed by id, so without reuse they would grow with every address ever discovered.
    private var free: [(id: Int, at: UInt64)] = []
    /// Ids handed out again since the last `takeRecycled` (workers clear their slots).
    private var recycled: [Int] = []
    /// How long a forgotten id rests before reuse: a request that outlived its backend's
    /// removal must be done with it.
    var idQuarantine: UInt64 = 120_000_000_000
    /// False until the first snapshot is built: backends of the first config start healthy.
    private var initialBuilt = false
    let generation = Atomic<UInt64>(0)
    /// Backends drained or disabled through the admin API right now (workers filter only then).
    let adminOverrides = Atomic<Int>(0)
    /// Ejections made so far: while any may be running, workers refresh failover shares by time.
    let ejectionsMade = Atomic<Int>(0)
    /// Waiting rooms of limited clusters, by name, across reloads.
    let admissions = AdmissionRegistry()
    let logger: Logger

    init(logger: Logger) { self.logger = logger }

    func id(_ cluster: ClusterConfig, _ b: BackendConfig) -> (Int, BackendHealth) {
        let key = "\(cluster.name)\u{0}\(b.name)\u{0}\(b.address)"
        let rise = cluster.healthCheck?.rise ?? 1
        let fall = cluster.healthCheck?.fall ?? 1
        if let id = ids[key], let h = healths[id] { return (id, h) }
        let id: Int
        let now = Clock.monotonicNanos()
        if let i = free.firstIndex(where: { $0.at <= now }) {
            id = free.remove(at: i).id
            recycled.append(id)
        } else {
            id = count
            count += 1
        }
        ids[key] = id
        // At process start every backend counts as healthy; one a reload adds waits for its
        // first passing check when its cluster has a health check.
        let h = BackendHealth(healthy: !initialBuilt || cluster.healthCheck == nil, rise: rise, fall: fall)
        if initialBuilt {  // added by a reload, discovery or the API
            h.joinedAt.store(Clock.monotonicNanos(), ordering: .relaxed)
            h.newcomer.store(true, ordering: .relaxed)
        }
        healths[id] = h
        return (id, h)
    }

    /// Marks the first snapshot built (later additions start unhealthy when checked).
    func snapshotBuilt() { initialBuilt = true }

    func healthChanged() { generation.wrappingAdd(1, ordering: .releasing) }

    /// Drops what is kept for `name` in `cluster` at any address but `keep` (a discovered
    /// backend past its grace, or readdressed): it would join fresh. Its id is reused after
    /// `idQuarantine`.
    /// Control thread.
    func forget(cluster: String, name: String, keep: SocketAddress? = nil) {
        let prefix = "\(cluster)\u{0}\(name)\u{0}"
        let kept = keep.map { prefix + "\($0)" }
        for (key, id) in ids where key.hasPrefix(prefix) && key != kept {
            ids[key] = nil
            if let h = healths.removeValue(forKey: id), h.adminState != .active {
                adminOverrides.wrappingSubtract(1, ordering: .relaxed)
            }
            free.append((id, Clock.monotonicNanos() &+ idQuarantine))
        }
    }

    /// The ids reused since the last call (control thread, while building a snapshot).
    func takeRecycled() -> [Int] {
        defer { recycled = [] }
        return recycled
    }

    /// Ids in use or resting (for tests and the docs' memory figure).
    var freeCount: Int { free.count }

    /// Sets a backend's runtime state (control thread). Back to `active` restarts slow start,
    /// unless `restartSlowStart` is false (a discovered backend that returned within its grace).
    func set(_ h: BackendHealth, adminState: BackendHealth.AdminState, restartSlowStart: Bool = true) {
        let was = h.adminState
        guard was != adminState else { return }
        h.set(adminState: adminState)
        if adminState == .active && restartSlowStart { h.joinedAt.store(Clock.monotonicNanos(), ordering: .relaxed) }
        if was == .active { adminOverrides.wrappingAdd(1, ordering: .relaxed) }
        if adminState == .active { adminOverrides.wrappingSubtract(1, ordering: .relaxed) }
        healthChanged()
    }

    var hasAdminOverrides: Bool { adminOverrides.load(ordering: .relaxed) > 0 }

    @inline(__always)
    var currentGeneration: UInt64 { generation.load(ordering: .acquiring) }
}
