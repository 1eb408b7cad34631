/// The retry budget of a cluster on one worker (Envoy's retry budget): retries in flight may
/// add at most `ratio` of the cluster's requests in flight, and never fewer than `floor`
/// (Envoy's `min_retry_concurrency`), so a quiet cluster can still retry.
///
/// Pure value; the counts are the worker's own. One multiplication per decision.
package struct RetryBudget: Sendable, Equatable {
    /// Retries in flight always allowed, whatever the load.
    package static let floor = 3

    /// `retries.budget`: retries in flight per request in flight.
    package let ratio: Double

    package init(ratio: Double) { self.ratio = ratio }

    /// Whether one more retry may start while `retries` are in flight among `requests`.
    @inline(__always)
    package func allows(retriesInFlight retries: Int, requestsInFlight requests: Int) -> Bool {
        retries < max(Self.floor, Int(ratio * Double(requests)))
    }
}
