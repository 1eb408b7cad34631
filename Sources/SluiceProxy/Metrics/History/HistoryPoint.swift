import SluiceBalancing

/// One second of one cluster in the history: what `/history` and the dashboard draw.
///
/// Fixed-size fields, no strings or arrays, so a cluster's 900 points are one flat array
/// (64 bytes a point). Counts are of that second; latencies are seconds, NaN in a second
/// with no answered request.
struct ClusterPoint {
    /// Wall-clock time of the point, Unix seconds.
    var t: Double
    /// Answers by class: 2xx, 3xx, 4xx, 5xx (1xx and 0, no answer, count as 5xx: they are
    /// failures a client saw).
    var c2xx: Int32 = 0
    var c3xx: Int32 = 0
    var c4xx: Int32 = 0
    var c5xx: Int32 = 0
    /// Requests refused for lack of capacity, by `ShedReason.rawValue`.
    var shed: SIMD4<Int32> = .zero
    var p50: Float = .nan
    var p99: Float = .nan
    /// Requests in flight to the cluster's backends and waiting in its queue, at the tick.
    var inFlight: Int32 = 0
    var queue: Int32 = 0
    var standbyShare: Float = 0
    var state: StormDetector.State = .calm

    var requests: Int { Int(c2xx) + Int(c3xx) + Int(c4xx) + Int(c5xx) }
    var shedTotal: Int { Int(shed[0]) + Int(shed[1]) + Int(shed[2]) + Int(shed[3]) }
}

/// One second of one backend, aligned with its cluster's points (`present` false in the
/// seconds before the backend existed). 24 bytes.
struct BackendPoint {
    var present = false
    var state: MetricsSample.State = .healthy
    var requests: Int32 = 0
    var c5xx: Int32 = 0
    var inFlight: Int32 = 0
    var p50: Float = .nan
    var p99: Float = .nan

    static let absent = BackendPoint()
}
