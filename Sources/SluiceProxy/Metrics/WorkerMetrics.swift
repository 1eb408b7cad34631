import SluiceBalancing

/// A worker's counters, in flat arrays indexed by its current snapshot's positions, so
/// counting is a few array increments by index: no hashing, no allocation.
///
/// Loop thread only. A new snapshot `reshape`s the arrays; their counts first move into
/// `carried`, keyed by label names, so Prometheus counters never go backwards across a
/// reload that renames, removes or reorders listeners and clusters. Work that outlives its
/// snapshot (a request still running on a removed cluster) is counted straight into `carried`
/// by name (`countRetired…`), the only paths here that hash.
struct WorkerMetrics {
    /// Status codes 0..<600 (0: no answer was sent); anything else counts as the nearest.
    static let codes = 600
    /// Shed counts per cluster: one per reason × priority lane (`reason.rawValue * lanes + lane`).
    static let shedReasons = ShedReason.allCases.count * WaitQueue.lanes
    static let retryReasons = RetryReason.allCases.count
    static let cacheResults = CacheResult.allCases.count

    /// The names the arrays are indexed by (the current snapshot's listeners and clusters).
    private(set) var listeners: [String] = []
    private(set) var clusters: [String] = []
    /// [listener][cluster, or "none" last][code]
    private var requests: [Int] = []
    /// [backend id][code]; backend ids are stable across reloads, so this only grows.
    private var backendCodes: [Int] = []
    /// [backend id][bucket...+Inf] and [backend id] sums: `backend_request_duration_seconds`,
    /// the time of the answering attempt (connect to the end of the response). Grows like
    /// `backendCodes`.
    private var backendBuckets: [Int] = []
    private var backendSums: [Double] = []
    /// [cluster][bucket...+Inf], then sums and counts per cluster.
    private var durationBuckets: [Int] = []
    private var durationSum: [Double] = []
    private var durationCount: [Int] = []
    /// [cluster][ShedReason × lane], [cluster][RetryReason], [listener][succeeded, failed]
    private var shed: [Int] = []
    private var retries: [Int] = []
    /// [cluster][CacheResult]: what the cache did for requests of cached routes.
    private var cache: [Int] = []
    private var handshakes: [Int] = []
    /// [listener][cluster]: refused by a route's `rate_limit`.
    private var rateLimited: [Int] = []
    /// Counts from earlier snapshots and from retired work, by label names.
    private(set) var carried = MetricTotals()

    /// Carries the counts over, then sizes the arrays for a new snapshot's listeners, clusters
    /// and backends. Allocates; once per snapshot.
    mutating func reshape(listeners l: [String], clusters c: [String], backendCount: Int) {
        addCurrent(into: &carried)
        listeners = l
        clusters = c
        requests = Array(repeating: 0, count: l.count * (c.count + 1) * Self.codes)
        let nb = DurationHistogram.bounds.count + 1
        if backendCodes.count < backendCount * Self.codes {
            backendCodes.append(contentsOf: repeatElement(0, count: backendCount * Self.codes - backendCodes.count))
            backendBuckets.append(contentsOf: repeatElement(0, count: backendCount * nb - backendBuckets.count))
            backendSums.append(contentsOf: repeatElement(0, count: backendCount - backendSums.count))
        }
        durationBuckets = Array(repeating: 0, count: c.count * nb)
        durationSum = Array(repeating: 0, count: c.count)
        durationCount = Array(repeating: 0, count: c.count)
        shed = Array(repeating: 0, count: c.count * Self.shedReasons)
        retries = Array(repeating: 0, count: c.count * Self.retryReasons)
        cache = Array(repeating: 0, count: c.count * Self.cacheResults)
        handshakes = Array(repeating: 0, count: l.count * 2)
        rateLimited = Array(repeating: 0, count: l.count * c.count)
    }

    /// Zeroes the per-backend counts of `id`, which a new backend now has (`Snapshot.recycled`).
    mutating func clearBackend(_ id: Int) {
        let nb = DurationHistogram.bounds.count + 1
        guard id >= 0, (id + 1) * Self.codes <= backendCodes.count, id < backendSums.count else { return }
        for i in (id * Self.codes)..<((id + 1) * Self.codes) { backendCodes[i] = 0 }
        for i in (id * nb)..<((id + 1) * nb) { backendBuckets[i] = 0 }
        backendSums[id] = 0
    }

    /// Everything counted so far, by label names (the admin plane merges workers' copies).
    func totals() -> MetricTotals {
        var t = carried
        addCurrent(into: &t)
        t.backendCodes = backendCodes
        t.backendBuckets = backendBuckets
        t.backendSums = backendSums
        return t
    }

    // MARK: counting (the request path)

    /// One answered exchange, by the current snapshot's listener and cluster indices (`cluster`
    /// nil: refused before routing) and, when a backend answered, its id and the answering
    /// attempt's seconds. Allocation-free.
    @inline(__always)
    mutating func count(
        listener: Int, cluster: Int?, code: Int, backendID: Int?, seconds: Double?, backendSeconds: Double? = nil
    ) {
        let code = min(max(code, 0), Self.codes - 1)
        let ci = cluster ?? clusters.count
        if listener >= 0 && listener < listeners.count && ci >= 0 && ci <= clusters.count {
            requests[(listener * (clusters.count + 1) + ci) * Self.codes + code] &+= 1
        }
        countBackend(backendID, code, backendSeconds)
        if let cluster, let seconds, cluster >= 0, cluster < clusters.count {
            durationBuckets[cluster * (DurationHistogram.bounds.count + 1) + DurationHistogram.bucket(seconds)] &+= 1
            durationSum[cluster] += seconds
            durationCount[cluster] &+= 1
        }
    }

    /// A refused request (503), by the current snapshot's cluster index.
    mutating func countShed(cluster: Int, _ reason: ShedReason, lane: Int) {
        guard cluster >= 0 && cluster < clusters.count else { return }
        shed[cluster * Self.shedReasons + reason.rawValue * WaitQueue.lanes + lane] &+= 1
    }

    /// A request tried again, by the current snapshot's cluster index.
    mutating func countRetry(cluster: Int, _ reason: RetryReason) {
        guard cluster >= 0 && cluster < clusters.count else { return }
        retries[cluster * Self.retryReasons + reason.rawValue] &+= 1
    }

    /// A request of a cached route, by the current snapshot's cluster index and what the cache did.
    @inline(__always)
    mutating func countCache(cluster: Int, _ r: CacheResult) {
        guard cluster >= 0 && cluster < clusters.count else { return }
        cache[cluster * Self.cacheResults + r.rawValue] &+= 1
    }

    mutating func countRetiredCache(cluster: String, _ r: CacheResult) {
        var row = [Int](repeating: 0, count: Self.cacheResults)
        row[r.rawValue] = 1
        carried.add(cache: row[...], cluster: cluster)
    }

    /// A TLS handshake that ended, by the current snapshot's listener index.
    mutating func countHandshake(listener: Int, ok: Bool) {
        guard listener >= 0 && listener < listeners.count else { return }
        handshakes[listener * 2 + (ok ? 0 : 1)] &+= 1
    }

    /// A request refused by a route's `rate_limit`, by the current snapshot's indices.
    mutating func countRateLimited(listener: Int, cluster: Int) {
        guard listener >= 0 && listener < listeners.count && cluster >= 0 && cluster < clusters.count else { return }
        rateLimited[listener * clusters.count + cluster] &+= 1
    }

    // MARK: counting work that outlived its snapshot (by name; rare)

    mutating func countRetiredRateLimited(listener: String, cluster: String) {
        carried.rateLimited[MetricTotals.ListenerCluster(listener: listener, cluster: cluster), default: 0] += 1
    }

    /// An exchange whose listener or cluster is not in the current snapshot (a reload removed
    /// or moved it while the request ran): straight into the carry-over.
    mutating func countRetired(
        listener: String, cluster: String?, code: Int, backendID: Int?, seconds: Double?, backendSeconds: Double? = nil
    ) {
        let code = min(max(code, 0), Self.codes - 1)
        carried.requests[MetricTotals.RequestKey(listener: listener, cluster: cluster ?? "", code: code), default: 0] += 1
        countBackend(backendID, code, backendSeconds)
        if let cluster, let seconds { carried.durations[cluster, default: DurationHistogram()].observe(seconds) }
    }

    mutating func countRetiredShed(cluster: String, _ reason: ShedReason, lane: Int) {
        var row = [Int](repeating: 0, count: Self.shedReasons)
        row[reason.rawValue * WaitQueue.lanes + lane] = 1
        carried.add(shed: row[...], cluster: cluster)
    }

    mutating func countRetiredRetry(cluster: String, _ reason: RetryReason) {
        var row = [Int](repeating: 0, count: Self.retryReasons)
        row[reason.rawValue] = 1
        carried.add(retries: row[...], cluster: cluster)
    }

    mutating func countRetiredHandshake(listener: String, ok: Bool) {
        carried.add(handshakes: (ok ? [1, 0] : [0, 1])[...], listener: listener)
    }

    // MARK: private

    @inline(__always)
    private mutating func countBackend(_ id: Int?, _ code: Int, _ seconds: Double?) {
        guard let id, id >= 0, id * Self.codes + code < backendCodes.count else { return }
        backendCodes[id * Self.codes + code] &+= 1
        if let seconds, id < backendSums.count {
            backendBuckets[id * (DurationHistogram.bounds.count + 1) + DurationHistogram.bucket(seconds)] &+= 1
            backendSums[id] += seconds
        }
    }

    /// Adds the per-index counts to `t` under their names (the one carry-over rule).
    private func addCurrent(into t: inout MetricTotals) {
        let nc = clusters.count + 1
        for (li, listener) in listeners.enumerated() {
            for ci in 0..<nc {
                let base = (li * nc + ci) * Self.codes
                for code in 0..<Self.codes where requests[base + code] > 0 {
                    let key = MetricTotals.RequestKey(
                        listener: listener, cluster: ci < clusters.count ? clusters[ci] : "", code: code)
                    t.requests[key, default: 0] += requests[base + code]
                }
            }
            t.add(handshakes: handshakes[(li * 2)..<(li * 2 + 2)], listener: listener)
            for (ci, cluster) in clusters.enumerated() where rateLimited[li * clusters.count + ci] > 0 {
                t.rateLimited[MetricTotals.ListenerCluster(listener: listener, cluster: cluster), default: 0] +=
                    rateLimited[li * clusters.count + ci]
            }
        }
        let nb = DurationHistogram.bounds.count + 1
        for (ci, name) in clusters.enumerated() {
            if durationCount[ci] > 0 {
                var d = DurationHistogram()
                d.buckets = Array(durationBuckets[(ci * nb)..<(ci * nb + nb)])
                d.sum = durationSum[ci]
                d.count = durationCount[ci]
                t.durations[name, default: DurationHistogram()].add(d)
            }
            t.add(shed: shed[(ci * Self.shedReasons)..<((ci + 1) * Self.shedReasons)], cluster: name)
            t.add(retries: retries[(ci * Self.retryReasons)..<((ci + 1) * Self.retryReasons)], cluster: name)
            let row = cache[(ci * Self.cacheResults)..<((ci + 1) * Self.cacheResults)]
            if row.contains(where: { $0 > 0 }) { t.add(cache: row, cluster: name) }
        }
    }
}
