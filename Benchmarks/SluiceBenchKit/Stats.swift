import Histogram

/// Counts and latencies for one second (or one phase) of a run, as the client saw them.
public struct Window: Sendable {
    /// Requests whose intended send time fell in this window.
    public var offered = 0
    /// Responses received, by status class: index 0 = 1xx ... 4 = 5xx.
    public var byClass = [0, 0, 0, 0, 0]
    /// Connection refused or reset, invalid responses.
    public var errors = 0
    /// No answer within the request timeout.
    public var timeouts = 0
    /// Latency in microseconds from the intended send time to the last response byte.
    public var latency = Histogram<UInt64>(highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: .three)
    /// Requests by how they ended, indexed by `Outcome.rawValue`.
    public var outcomes = [Int](repeating: 0, count: Outcome.allCases.count)
    /// Latency of the 2xx answers only, microseconds.
    public var success = Histogram<UInt64>(highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: .three)
    /// `Retry-After` seconds received on 503s and 429s: value -> count.
    public var retryAfter: [Int: Int] = [:]
    /// Answers a cache served (`CacheStatus`), any status, and their latency in microseconds.
    public var hits = 0
    public var hitLatency = Histogram<UInt64>(highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: .three)

    public init() {}

    /// Counts one ended request (answered or not) in the outcome tallies.
    public mutating func record(_ o: Outcome, retryAfter ra: Int?, latencyMicros: UInt64?, hit: Bool = false) {
        outcomes[o.rawValue] += 1
        if hit, let l = latencyMicros {
            hits += 1
            _ = hitLatency.record(max(1, l))
        }
        if let ra, o.isCleanRejection { retryAfter[ra, default: 0] += 1 }
        if o == .success, let l = latencyMicros { _ = success.record(max(1, l)) }
    }

    /// Successes' latency percentile in milliseconds (0 when none succeeded).
    public func successMillis(_ p: Double) -> Double {
        success.totalCount == 0 ? 0 : Double(success.valueAtPercentile(p)) / 1000
    }

    /// Hits' latency percentile in milliseconds (0 when there were none).
    public func hitMillis(_ p: Double) -> Double {
        hitLatency.totalCount == 0 ? 0 : Double(hitLatency.valueAtPercentile(p)) / 1000
    }

    /// Requests that did not end in a 2xx.
    public var rejected: Int { outcomes.reduce(0, +) - outcomes[Outcome.success.rawValue] }

    public var answered: Int { byClass.reduce(0, +) }
    public var goodput: Int { byClass[1] }
    /// Requests that ended in this window: answered, failed or timed out.
    public var ended: Int { answered + errors + timeouts }

    public mutating func add(_ o: Window) {
        offered += o.offered
        for i in 0..<5 { byClass[i] += o.byClass[i] }
        errors += o.errors
        timeouts += o.timeouts
        latency.add(o.latency)
        for i in outcomes.indices { outcomes[i] += o.outcomes[i] }
        success.add(o.success)
        for (k, v) in o.retryAfter { retryAfter[k, default: 0] += v }
        hits += o.hits
        hitLatency.add(o.hitLatency)
    }

    /// Latency percentile in milliseconds (0 when nothing was answered).
    public func percentileMillis(_ p: Double) -> Double {
        latency.totalCount == 0 ? 0 : Double(latency.valueAtPercentile(p)) / 1000
    }
}
