import SluiceBalancing

/// A cluster's counters at one tick, reduced to what the history needs: answers by class,
/// shed requests by reason, latency buckets, and each backend's. Two of them a second apart
/// give a point (`since`).
struct ClusterCounts {
    /// 2xx, 3xx, 4xx, 5xx (the rest, 1xx and 0, count as 5xx).
    var classes = [0, 0, 0, 0]
    /// By `ShedReason.rawValue`, all priorities together.
    var shed = [0, 0, 0, 0]
    var buckets = [Int](repeating: 0, count: DurationHistogram.bounds.count + 1)
    var backends: [String: BackendCounts] = [:]

    init() {}

    init(_ c: MetricsSample.Cluster, totals: MetricTotals) {
        for (k, n) in totals.requests where k.cluster == c.name { classes[Self.classIndex(k.code)] += n }
        if let row = totals.shed[c.name] {
            for (i, n) in row.enumerated() { shed[min(i / WaitQueue.lanes, 3)] += n }
        }
        if let d = totals.durations[c.name] { buckets = d.buckets }
        for b in c.backends {
            var bc = BackendCounts()
            for r in b.responses {
                bc.requests += r.count
                if r.code >= 500 || r.code < 100 { bc.c5xx += r.count }
            }
            bc.buckets = b.duration.buckets
            bc.sum = b.duration.sum
            backends[b.name] = bc
        }
    }

    static func classIndex(_ code: Int) -> Int {
        switch code {
        case 200..<300: return 0
        case 300..<400: return 1
        case 400..<500: return 2
        default: return 3
        }
    }

    /// What was counted since `earlier`. A counter that went down (it cannot, but a backend
    /// renamed by a reload starts again) counts as 0.
    func since(_ earlier: ClusterCounts) -> ClusterCounts {
        var d = ClusterCounts()
        for i in 0..<4 {
            d.classes[i] = max(0, classes[i] - earlier.classes[i])
            d.shed[i] = max(0, shed[i] - earlier.shed[i])
        }
        d.buckets = Self.minus(buckets, earlier.buckets)
        for (name, b) in backends {
            let e = earlier.backends[name] ?? BackendCounts()
            d.backends[name] = BackendCounts(
                requests: max(0, b.requests - e.requests), c5xx: max(0, b.c5xx - e.c5xx), buckets: Self.minus(b.buckets, e.buckets),
                sum: max(0, b.sum - e.sum))
        }
        return d
    }

    private static func minus(_ a: [Int], _ b: [Int]) -> [Int] {
        a.indices.map { max(0, a[$0] - ($0 < b.count ? b[$0] : 0)) }
    }
}

struct BackendCounts {
    var requests = 0
    var c5xx = 0
    var buckets = [Int](repeating: 0, count: DurationHistogram.bounds.count + 1)
    var sum = 0.0
}
