import SluiceBalancing

/// The last 15 minutes of every cluster and backend, one point a second, and the events of
/// that time (DESIGN §4 `GET /history`; docs/history-and-storms.md).
///
/// Control thread only: `ProxyServer.tick` records a sample each second and the admin
/// listener, on the same loop, reads it. It learns everything from the counters the workers
/// keep anyway (the difference of two samples a second apart) and from the shared health
/// table, so the request path does no extra work for it.
///
/// Memory: 900 points × (64 bytes + 24 bytes × backends) per cluster, plus 1,024 events and a
/// storm detector (under 1 KiB) per cluster: 1.1 MiB for 10 clusters of 10 backends.
final class History {
    static let seconds = 900
    static let maxEvents = 1024
    /// Seconds without a shed request before "shedding stopped".
    static let sheddingQuiet = 10.0

    /// One cluster's points and what the next tick's differences start from.
    struct ClusterHistory {
        var name: String
        var points = Ring<ClusterPoint>(capacity: History.seconds)
        /// Backend names in the snapshot's order, and each backend's points.
        var backendNames: [String] = []
        var backends: [String: Ring<BackendPoint>] = [:]
        /// Each backend's address, tier and configured weight at the last tick.
        var info: [String: (address: String, tier: String, weight: Int)] = [:]
        var detector = StormDetector()
        /// The counts at the last tick; zeros before the first, so the first point holds what was
        /// counted since the process started (or since a reload added the cluster).
        var previous = ClusterCounts()
        /// Ticks recorded so far (events need one earlier tick to compare with).
        var ticks = 0
        /// Each backend's state at the last tick, and its measured service time (EWMA, seconds).
        var states: [String: MetricsSample.State] = [:]
        var serviceTime: [String: Double] = [:]
        var shedding = false
        var lastShed = 0.0
        /// 0: no standby share; 1: under 50%; 2: 50% to under 100%; 3: all on standby.
        var shareBand = 0
        /// The capacity in requests/s that the detector was given at the last tick (nil: unknown).
        var capacity: Double? = nil

        init(name: String) { self.name = name }
    }

    private(set) var clusters: [ClusterHistory] = []
    private(set) var events = Ring<HistoryEvent>(capacity: History.maxEvents)

    /// Adds an event from outside the tick (a reload). Returns it.
    @discardableResult
    func note(_ e: HistoryEvent) -> HistoryEvent {
        var e = e
        e.t = Self.millis(e.t)
        events.append(e)
        return e
    }

    /// Times are kept to the millisecond, as `/history` prints them, so a client that sends a
    /// printed `t` back as `since` gets exactly what came after it.
    static func millis(_ t: Double) -> Double { (t * 1000).rounded() / 1000 }

    /// Records one second: `s` is the sample of now, `wall` the Unix time, `monotonic` a
    /// steady clock in seconds (the storm detector's). Returns the events it found.
    func record(_ s: MetricsSample, wall: Double, monotonic: Double) -> [HistoryEvent] {
        let wall = Self.millis(wall)
        var found: [HistoryEvent] = []
        var next: [ClusterHistory] = []
        next.reserveCapacity(s.clusters.count)
        for c in s.clusters {
            var h = clusters.first(where: { $0.name == c.name }) ?? ClusterHistory(name: c.name)
            record(c, totals: s.totals, into: &h, wall: wall, monotonic: monotonic, events: &found)
            next.append(h)
        }
        clusters = next
        for e in found { events.append(e) }
        return found
    }

    /// A cluster's history by name.
    func cluster(_ name: String) -> ClusterHistory? { clusters.first { $0.name == name } }

    private func record(
        _ c: MetricsSample.Cluster, totals: MetricTotals, into h: inout ClusterHistory, wall: Double, monotonic: Double,
        events: inout [HistoryEvent]
    ) {
        let counts = ClusterCounts(c, totals: totals)
        var p = ClusterPoint(t: wall)
        let d = counts.since(h.previous)
        p.c2xx = Int32(clamping: d.classes[0])
        p.c3xx = Int32(clamping: d.classes[1])
        p.c4xx = Int32(clamping: d.classes[2])
        p.c5xx = Int32(clamping: d.classes[3])
        for r in 0..<4 { p.shed[r] = Int32(clamping: d.shed[r]) }
        p.p50 = Float(DurationHistogram.quantile(0.5, d.buckets))
        p.p99 = Float(DurationHistogram.quantile(0.99, d.buckets))
        p.inFlight = Int32(clamping: c.backends.reduce(0) { $0 + $1.activeRequests })
        p.queue = Int32(clamping: c.queueDepth)
        p.standbyShare = Float(c.standbyShare)

        // Backends: points aligned with the cluster's, and their state changes.
        var rings: [String: Ring<BackendPoint>] = [:]
        for b in c.backends {
            var ring = h.backends[b.name] ?? Self.absentRing(count: h.points.count)
            let bd = d.backends[b.name] ?? BackendCounts()
            var bp = BackendPoint(present: true, state: b.state)
            bp.requests = Int32(clamping: bd.requests)
            bp.c5xx = Int32(clamping: bd.c5xx)
            bp.inFlight = Int32(clamping: b.activeRequests)
            bp.p50 = Float(DurationHistogram.quantile(0.5, bd.buckets))
            bp.p99 = Float(DurationHistogram.quantile(0.99, bd.buckets))
            ring.append(bp)
            rings[b.name] = ring
            let timed = bd.buckets.reduce(0, +)
            if timed > 0 {
                let mean = bd.sum / Double(timed)
                h.serviceTime[b.name] = h.serviceTime[b.name].map { $0 * 0.8 + mean * 0.2 } ?? mean
            }
            if let was = h.states[b.name], was != b.state {
                events.append(
                    HistoryEvent(
                        t: wall, kind: b.state == .ejected ? .ejection : .health, cluster: c.name, backend: b.name,
                        text: "\(b.name): \(was.rawValue) → \(b.state.rawValue)"))
            }
            h.states[b.name] = b.state
        }
        h.backendNames = c.backends.map(\.name)
        h.info = Dictionary(uniqueKeysWithValues: c.backends.map { ($0.name, ($0.address, $0.tier, $0.weight)) })
        h.backends = rings
        h.states = h.states.filter { rings[$0.key] != nil }
        h.serviceTime = h.serviceTime.filter { rings[$0.key] != nil }

        failoverEvent(c, &h, wall: wall, events: &events)
        sheddingEvent(c, p, &h, wall: wall, events: &events)

        h.capacity = Self.capacity(c, serviceTime: h.serviceTime)
        if let change = h.detector.observe(arrivals: Double(p.requests), capacity: h.capacity, at: monotonic) {
            events.append(
                HistoryEvent(
                    t: wall, kind: .traffic, cluster: c.name, backend: nil,
                    text: "traffic \(change.from.rawValue) → \(change.to.rawValue): \(change.reason)",
                    from: change.from.rawValue, to: change.to.rawValue))
        }
        p.state = h.detector.state
        h.points.append(p)
        h.previous = counts
        h.ticks += 1
    }

    /// What the cluster's backends can serve per second now: each available backend's
    /// concurrency limit over its measured service time (Little's law). nil without `limits`
    /// or before any backend has answered.
    static func capacity(_ c: MetricsSample.Cluster, serviceTime: [String: Double]) -> Double? {
        var total = 0.0
        var known = false
        for b in c.backends where b.state == .healthy {
            guard let limit = b.limit, let t = serviceTime[b.name] else { continue }
            total += Double(limit) / max(t, 0.000_1)
            known = true
        }
        return known ? total : nil
    }

    private func failoverEvent(_ c: MetricsSample.Cluster, _ h: inout ClusterHistory, wall: Double, events: inout [HistoryEvent]) {
        let share = c.standbyShare
        let band = share <= 0 ? 0 : share < 0.5 ? 1 : share < 1 ? 2 : 3
        if h.ticks > 0 && band != h.shareBand {
            let pct = Int((share * 100).rounded())
            let text =
                band == 0
                ? "standby tier no longer serving (primary tier back)"
                : band == 3 ? "all new requests go to the standby tier" : "standby tier serving \(pct)% of new requests"
            events.append(HistoryEvent(t: wall, kind: .failover, cluster: c.name, backend: nil, text: text))
        }
        h.shareBand = band
    }

    private func sheddingEvent(
        _ c: MetricsSample.Cluster, _ p: ClusterPoint, _ h: inout ClusterHistory, wall: Double, events: inout [HistoryEvent]
    ) {
        if p.shedTotal > 0 {
            h.lastShed = wall
            if !h.shedding {
                h.shedding = true
                var parts: [String] = []
                for r in ShedReason.allCases where p.shed[r.rawValue] > 0 { parts.append("\(r.label) \(p.shed[r.rawValue])") }
                events.append(
                    HistoryEvent(
                        t: wall, kind: .shedding, cluster: c.name, backend: nil,
                        text: "shedding started: \(p.shedTotal)/s (\(parts.joined(separator: ", ")))"))
            }
        } else if h.shedding && wall - h.lastShed >= Self.sheddingQuiet {
            h.shedding = false
            events.append(
                HistoryEvent(
                    t: wall, kind: .shedding, cluster: c.name, backend: nil,
                    text: "shedding stopped (none for \(Int(Self.sheddingQuiet)) s)"))
        }
    }

    private static func absentRing(count: Int) -> Ring<BackendPoint> {
        var r = Ring<BackendPoint>(capacity: seconds)
        for _ in 0..<count { r.append(.absent) }
        return r
    }
}
