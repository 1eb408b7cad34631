import SluiceConfig
import SluiceHTTP

/// Why a request was retried (the `reason` label of `sluice_retries_total`).
enum RetryReason: Int, CaseIterable {
    case connectFailure, resetBeforeResponse, status

    var label: String {
        switch self {
        case .connectFailure: return "connect_failure"
        case .resetBeforeResponse: return "reset_before_response"
        case .status: return "status"
        }
    }
}

/// What the worker can offer a retry, asked only once the policy allows one.
struct RetryCapacity: Equatable {
    /// A backend not tried yet would be available (limits aside).
    var anotherBackend: Bool
    /// The cluster's retry budget has room on this worker.
    var withinBudget: Bool
    /// The retry leaves a tier that looks down (a failover adds no load to it).
    var leavesTier: Bool
}

/// The one rule for sending a request again, pure (DESIGN §2 `retries`).
///
/// Two cases, once separate code paths:
/// - a **replay**: the classic stale keep-alive race. A pooled connection closed before any
///   response byte; a body-less request is sent once more on a fresh connection, not counted
///   as a retry nor against the backend (HAProxy and nginx do the same).
/// - a **retry** on another backend when the cluster's `retries` allow it: attempts left, the
///   condition listed in `on`, another backend available, the budget not spent (a request
///   already counted may use its remaining attempts; leaving a tier that looks down is free),
///   and the request safe to resend: a connect failure always is (nothing was sent); a reset
///   or a status only for an idempotent method whose body was not streamed.
enum RetryDecision: Equatable {
    case replay
    case retry(RetryReason)
    case no

    /// Facts of the exchange the rule reads.
    struct Attempt {
        var method: Method
        /// The request has a body (Content-Length or chunked).
        var hasBody: Bool
        /// The request was read to its end.
        var requestDone: Bool
        var responseStarted: Bool
        var replays: Int
        var retriesUsed: Int
        /// This exchange already holds a slot of the retry budget.
        var countedInBudget: Bool
    }

    /// Whether a stale pooled connection's failure is replayed (asked before any blame).
    static func replays(_ failure: UpstreamFailure, _ a: Attempt) -> Bool {
        guard case .closedBeforeHead(reused: true, received: false) = failure else { return false }
        return !a.hasBody && a.replays == 0 && !a.responseStarted
    }

    /// Whether to retry after `failure` (or a 5xx `status` when `failure` is nil). `capacity`
    /// is called at most once, and only when the policy and the request allow a retry.
    static func decide(
        _ failure: UpstreamFailure?, status: Int = 0, _ a: Attempt, policy: RetryConfig?,
        capacity: () -> RetryCapacity
    ) -> RetryDecision {
        guard let policy, a.retriesUsed < policy.attempts, !a.responseStarted else { return .no }
        let reason: RetryReason
        let condition: RetryCondition
        switch failure {
        case .connect?:
            reason = .connectFailure
            condition = .connectFailure
        case .closedBeforeHead(_, let received)?:
            guard !received else { return .no }  // part of a head came: the backend saw the request
            reason = .resetBeforeResponse
            condition = .resetBeforeResponse
        case .responseTimeout?:
            reason = .status
            condition = .status(504)
        case nil:
            reason = .status
            condition = .status(status)
        }
        guard policy.on.contains(condition) else { return .no }
        if reason != .connectFailure {
            guard a.method.isIdempotent, !a.hasBody, a.requestDone else { return .no }
        }
        let c = capacity()
        guard c.anotherBackend, a.countedInBudget || c.withinBudget || c.leavesTier else { return .no }
        return .retry(reason)
    }
}
