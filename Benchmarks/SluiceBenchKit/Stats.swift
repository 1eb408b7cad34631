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

    public init() {}

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
    }

    /// Latency percentile in milliseconds (0 when nothing was answered).
    public func percentileMillis(_ p: Double) -> Double {
        latency.totalCount == 0 ? 0 : Double(latency.valueAtPercentile(p)) / 1000
    }
}
