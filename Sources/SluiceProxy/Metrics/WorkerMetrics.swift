/// A worker's request counters, in flat arrays indexed by the current snapshot's positions,
/// so counting a request is a few array increments (no hashing, no allocation).
///
/// Loop thread only. On a new snapshot the counts move into `carried`, keyed by label
/// names, so Prometheus counters never go backwards across reloads.
struct WorkerMetrics {
    static let codes = 600
    /// Upper bounds of `request_duration_seconds` buckets (+Inf implied).
    static let buckets: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    var listeners: [String] = []
    var clusters: [String] = []
    /// [listener][cluster or "none" last][code]
    var requests: [Int] = []
    /// [backend id][code]
    var backendCodes: [Int] = []
    /// [cluster][bucket...+Inf], then sums and counts per cluster.
    var durationBuckets: [Int] = []
    var durationSum: [Double] = []
    var durationCount: [Int] = []

    /// Counts from earlier snapshots, by label set.
    var carriedRequests: [RequestKey: Int] = [:]
    var carriedDurations: [String: (buckets: [Int], sum: Double, count: Int)] = [:]

    struct RequestKey: Hashable {
        let listener: String
        let cluster: String
        let code: Int
    }

    mutating func reshape(listeners l: [String], clusters c: [String], backendCount: Int) {
        fold()
        listeners = l
        clusters = c
        requests = Array(repeating: 0, count: l.count * (c.count + 1) * Self.codes)
        if backendCodes.count < backendCount * Self.codes {
            backendCodes.append(contentsOf: repeatElement(0, count: backendCount * Self.codes - backendCodes.count))
        }
        durationBuckets = Array(repeating: 0, count: c.count * (Self.buckets.count + 1))
        durationSum = Array(repeating: 0, count: c.count)
        durationCount = Array(repeating: 0, count: c.count)
    }

    /// Moves the per-snapshot counts into the name-keyed carry-over.
    mutating func fold() {
        guard !listeners.isEmpty else { return }
        for li in listeners.indices {
            for ci in 0...clusters.count {
                for code in 0..<Self.codes {
                    let n = requests[(li * (clusters.count + 1) + ci) * Self.codes + code]
                    if n > 0 {
                        let key = RequestKey(listener: listeners[li], cluster: ci < clusters.count ? clusters[ci] : "", code: code)
                        carriedRequests[key, default: 0] += n
                    }
                }
            }
        }
        let nb = Self.buckets.count + 1
        for (ci, name) in clusters.enumerated() where durationCount[ci] > 0 {
            var old = carriedDurations[name] ?? (Array(repeating: 0, count: nb), 0, 0)
            for k in 0..<nb { old.buckets[k] += durationBuckets[ci * nb + k] }
            old.sum += durationSum[ci]
            old.count += durationCount[ci]
            carriedDurations[name] = old
        }
    }

    @inline(__always)
    mutating func count(listener: Int, cluster: Int?, code: Int, backendID: Int?, seconds: Double?) {
        let code = min(max(code, 0), Self.codes - 1)
        let ci = cluster ?? clusters.count
        if listener >= 0 && listener < listeners.count && ci >= 0 && ci <= clusters.count {
            requests[(listener * (clusters.count + 1) + ci) * Self.codes + code] &+= 1
        }
        if let id = backendID, id >= 0, id * Self.codes + code < backendCodes.count {
            backendCodes[id * Self.codes + code] &+= 1
        }
        if let cluster, let seconds, cluster >= 0, cluster < clusters.count {
            var k = 0
            while k < Self.buckets.count && seconds > Self.buckets[k] { k += 1 }
            durationBuckets[cluster * (Self.buckets.count + 1) + k] &+= 1
            durationSum[cluster] += seconds
            durationCount[cluster] &+= 1
        }
    }

    /// Counts an exchange whose listener or cluster is not in the current snapshot (a reload
    /// removed or moved it while the request ran): straight into the name-keyed carry-over.
    mutating func countRetired(listener: String, cluster: String?, code: Int, backendID: Int?, seconds: Double?) {
        let code = min(max(code, 0), Self.codes - 1)
        carriedRequests[RequestKey(listener: listener, cluster: cluster ?? "", code: code), default: 0] += 1
        if let id = backendID, id >= 0, id * Self.codes + code < backendCodes.count {
            backendCodes[id * Self.codes + code] &+= 1
        }
        if let cluster, let seconds {
            let nb = Self.buckets.count + 1
            var old = carriedDurations[cluster] ?? (Array(repeating: 0, count: nb), 0, 0)
            var k = 0
            while k < Self.buckets.count && seconds > Self.buckets[k] { k += 1 }
            old.buckets[k] += 1
            old.sum += seconds
            old.count += 1
            carriedDurations[cluster] = old
        }
    }

    /// Everything as name-keyed totals (the admin thread merges workers).
    func totals() -> (requests: [RequestKey: Int], durations: [String: (buckets: [Int], sum: Double, count: Int)]) {
        var copy = self
        copy.fold()
        return (copy.carriedRequests, copy.carriedDurations)
    }
}
