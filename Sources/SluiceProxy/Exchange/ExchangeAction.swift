import SluiceHTTP

/// Sluice's own answer to a request it cannot forward: the status and a one-line reason
/// (the plain-text body and the access log's message).
struct ErrorAnswer: Equatable, CustomStringConvertible {
    let status: Int
    let reason: StaticString
    /// Seconds for a `Retry-After` field (a 429's exact wait), or nil.
    let retryAfter: Int?

    init(_ status: Int, _ reason: StaticString, retryAfter: Int? = nil) {
        self.status = status
        self.reason = reason
        self.retryAfter = retryAfter
    }

    var description: String { "\(status) \(reason)" }

    static func == (a: ErrorAnswer, b: ErrorAnswer) -> Bool {
        a.status == b.status && a.reason.description == b.reason.description && a.retryAfter == b.retryAfter
    }
}

/// What broke on the way to or from a backend, before the response head was complete.
enum UpstreamFailure: Equatable {
    /// TCP connect or upstream TLS failed, was refused, or did not finish within `connect`.
    case connect(timedOut: Bool)
    /// The connection closed or failed before a complete response head. `reused`: it had
    /// served an exchange before (the stale keep-alive race); `received`: part of a head came.
    case closedBeforeHead(reused: Bool, received: Bool)
    /// No response head within `response` of the request being fully sent.
    case responseTimeout
}

/// The one thing an `Exchange` asks its connection to do after an event. The connection runs
/// it and feeds the outcome back as the next event; `ExchangeTests` check these values.
enum ExchangeAction: Equatable {
    /// Nothing now: wait for the next socket event or the deadline.
    case wait
    /// Choose a backend not tried yet and connect (pooled or fresh). `failover`: the previous
    /// backend just failed, so the pick avoids it and may leave its tier (`Worker.pickPlan`).
    case pick(failover: Bool)
    /// Count this failure against the backend (error counters, outlier detection, "just
    /// failed"), then call `retryOrAnswer(after:)`.
    case blame(UpstreamFailure)
    /// Retry on another backend: close the upstream connection, carrying its unsent bytes to
    /// the next one when `carry` (nothing reached the failed backend), count the retry, pick.
    case retry(RetryReason, carry: Bool)
    /// Replay once on a fresh connection: the pooled one was stale. Not a retry, not blamed.
    case replay
    /// Answer with Sluice's own error page; the connection closes after it.
    case answer(ErrorAnswer)
    /// 503 for lack of capacity, counted in `shed_total` by reason.
    case shed(ShedReason)
    /// Forward an interim (1xx) head, or drop it for an HTTP/1.0 client (`forward: false`).
    case interim(forward: Bool)
    /// Forward the final response head; the body follows in `mode`.
    case forward(ClientBodyMode)
    /// 101 Switching Protocols: forward the head, then bytes both ways (a tunnel).
    case tunnel
    /// The response is complete. `reuse`: the backend connection may go back to its pool.
    case finish(reuse: Bool)
    /// The answer has started and cannot complete: flush what arrived, then close with no
    /// clean end (no terminal chunk, short of Content-Length), so the client sees it cut.
    case cut
    /// The client is gone: close both sides now; the exchange is logged aborted.
    case abort
    /// End the connection now, nothing to answer (an idle tunnel).
    case close
}

extension ShedReason {
    /// The one-line reason of the 503 that sheds a request for this reason.
    var answer: StaticString {
        switch self {
        case .queueFull: return "no capacity: the queue is full"
        case .queueTimeout: return "no capacity: waited too long in the queue"
        case .overload: return "no capacity: overloaded"
        case .noBackend: return "no backend available"
        }
    }
}
