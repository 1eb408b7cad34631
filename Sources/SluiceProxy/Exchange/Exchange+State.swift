import SluiceConfig
import SluiceHTTP

/// The exchange's states (each names the timeout it waits on) and its cluster's policy.
extension Exchange {
    enum State: Equatable {
        /// Between requests (no exchange running).
        case idle
        /// The head was read; the cluster and backend are being chosen.
        case routing
        /// Waiting in the cluster's queue for a backend slot (`limits.queue_timeout`).
        case queued
        /// TCP connect and upstream TLS (`connect`).
        case connecting
        /// The request (head and body) going to the backend; `response` is the longest silence.
        case sending
        /// The request fully sent; the response head due within `response`.
        case awaitingHead
        /// The response body streaming (from a backend, or from the cache); `response` is the
        /// longest silence.
        case streaming
        /// Waiting for the head of a response another exchange is fetching for the same cache
        /// key (coalescing); `response` bounds the wait.
        case coalescing
        /// After 101: bytes both ways; `client_idle` of inactivity ends it.
        case tunnel
        /// Sluice answered (an error page) or the exchange ended early; no deadline.
        case answered
        /// The response completed.
        case done
    }

    /// The timeouts and retry policy of the exchange's cluster (DESIGN §2 `timeouts`, `retries`).
    struct Policy {
        var connect: UInt64 = 5_000_000_000
        var response: UInt64 = 30_000_000_000
        var queue: UInt64 = 2_000_000_000
        var tunnelIdle: UInt64 = 60_000_000_000
        var retries: RetryConfig? = nil
    }
}

extension BodyFraming {
    var isContentLength: Bool {
        if case .contentLength = self { return true }
        return false
    }
}
