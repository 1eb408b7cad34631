/// Counters keyed by their label names: what a worker carries across reloads, and what the
/// admin plane merges workers' copies into.
///
/// A plain value: built on a worker's thread (`WorkerMetrics.totals()`), merged on the control
/// thread. Never on the request path: merging hashes strings and may allocate.
struct MetricTotals: Equatable {
    /// `requests_total`'s labels; `cluster` is empty for requests refused before routing.
    struct RequestKey: Hashable, Comparable {
        let listener: String
        let cluster: String
        let code: Int

        static func < (a: RequestKey, b: RequestKey) -> Bool {
            (a.listener, a.cluster, a.code) < (b.listener, b.cluster, b.code)
        }
    }

    /// `rate_limited_total`'s labels.
    struct ListenerCluster: Hashable, Comparable {
        let listener: String
        let cluster: String

        static func < (a: ListenerCluster, b: ListenerCluster) -> Bool { (a.listener, a.cluster) < (b.listener, b.cluster) }
    }

    /// Requests answered, by listener, cluster and status code.
    var requests: [RequestKey: Int] = [:]
    /// Requests refused by a route's `rate_limit` (429), by listener and cluster.
    var rateLimited: [ListenerCluster: Int] = [:]
    /// `request_duration_seconds` by cluster name.
    var durations: [String: DurationHistogram] = [:]
    /// Requests shed, by cluster name, then by `ShedReason.rawValue`.
    var shed: [String: [Int]] = [:]
    /// Retries, by cluster name, then by `RetryReason.rawValue`.
    var retries: [String: [Int]] = [:]
    /// Requests of cached routes, by cluster name, then by `CacheResult.rawValue`.
    var cache: [String: [Int]] = [:]
    /// TLS handshakes by listener name: `[succeeded, failed]`.
    var handshakes: [String: [Int]] = [:]
    /// Backend responses by `backend id × WorkerMetrics.codes + code` (ids never change for a
    /// backend, so this needs no names).
    var backendCodes: [Int] = []
    /// `backend_request_duration_seconds`: buckets by `backend id × (bounds + 1) + bucket`
    /// (not cumulative) and the sums by backend id.
    var backendBuckets: [Int] = []
    var backendSums: [Double] = []

    /// A backend's `backend_request_duration_seconds`, by id (empty when never counted).
    func backendDuration(_ id: Int) -> DurationHistogram {
        var d = DurationHistogram()
        let nb = DurationHistogram.bounds.count + 1
        guard id >= 0, (id + 1) * nb <= backendBuckets.count else { return d }
        d.buckets = Array(backendBuckets[(id * nb)..<((id + 1) * nb)])
        d.count = d.buckets.reduce(0, +)
        d.sum = id < backendSums.count ? backendSums[id] : 0
        return d
    }

    /// The fold: adds every counter of `other` to this one.
    mutating func add(_ other: MetricTotals) {
        requests.merge(other.requests, uniquingKeysWith: +)
        rateLimited.merge(other.rateLimited, uniquingKeysWith: +)
        for (name, d) in other.durations { durations[name, default: DurationHistogram()].add(d) }
        Self.add(other.shed, into: &shed)
        Self.add(other.retries, into: &retries)
        Self.add(other.cache, into: &cache)
        Self.add(other.handshakes, into: &handshakes)
        Self.add(other.backendCodes, into: &backendCodes)
        Self.add(other.backendBuckets, into: &backendBuckets)
        if backendSums.count < other.backendSums.count {
            backendSums.append(contentsOf: repeatElement(0, count: other.backendSums.count - backendSums.count))
        }
        for i in other.backendSums.indices { backendSums[i] += other.backendSums[i] }
    }

    /// Adds `counts` to the row of `name` (created with as many zeros when missing).
    mutating func add(shed counts: ArraySlice<Int>, cluster name: String) { Self.add(counts, to: name, in: &shed) }
    mutating func add(retries counts: ArraySlice<Int>, cluster name: String) { Self.add(counts, to: name, in: &retries) }
    mutating func add(cache counts: ArraySlice<Int>, cluster name: String) { Self.add(counts, to: name, in: &cache) }
    mutating func add(handshakes counts: ArraySlice<Int>, listener name: String) {
        Self.add(counts, to: name, in: &handshakes)
    }

    /// The count at `index` in the row of `name`; 0 when there is none.
    static func count(_ table: [String: [Int]], _ name: String, _ index: Int) -> Int {
        guard let row = table[name], index < row.count else { return 0 }
        return row[index]
    }

    private static func add(_ counts: ArraySlice<Int>, to name: String, in table: inout [String: [Int]]) {
        guard counts.contains(where: { $0 != 0 }) else { return }
        Self.add(Array(counts), into: &table[name, default: []])
    }

    private static func add(_ other: [String: [Int]], into table: inout [String: [Int]]) {
        for (name, row) in other { Self.add(row, into: &table[name, default: []]) }
    }

    /// Element-wise sum; the shorter array grows with zeros.
    private static func add(_ other: [Int], into row: inout [Int]) {
        if row.count < other.count { row.append(contentsOf: repeatElement(0, count: other.count - row.count)) }
        for i in other.indices { row[i] &+= other[i] }
    }
}

/// One `request_duration_seconds` histogram: counts per bucket (not cumulative; the last is
/// +Inf), the sum of observed seconds and their count.
struct DurationHistogram: Equatable {
    /// Upper bounds of the buckets, in seconds (+Inf implied).
    static let bounds: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    var buckets = [Int](repeating: 0, count: bounds.count + 1)
    var sum: Double = 0
    var count = 0

    /// The bucket `seconds` falls in: the first whose bound is not below it. A scan of eleven
    /// doubles; no allocation.
    @inline(__always)
    static func bucket(_ seconds: Double) -> Int {
        var k = 0
        while k < bounds.count && seconds > bounds[k] { k += 1 }
        return k
    }

    mutating func observe(_ seconds: Double) {
        buckets[Self.bucket(seconds)] += 1
        sum += seconds
        count += 1
    }

    mutating func add(_ other: DurationHistogram) {
        for i in other.buckets.indices where i < buckets.count { buckets[i] += other.buckets[i] }
        sum += other.sum
        count += other.count
    }
}
