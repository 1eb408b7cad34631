import SluiceBuffers
import SluiceConfig
import SluiceSystem

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

extension ClientSession {
    /// Tries the request again on another backend when the cluster's `retries` allow it
    /// (DESIGN §2): attempts left, the condition listed in `on`, the retry budget not spent,
    /// another backend available, and the request safe to resend. A connect failure is always
    /// safe (nothing was sent; unsent bytes move to the new connection); anything else only for
    /// idempotent methods whose body was not streamed. Returns false to let the caller answer.
    ///
    /// After a connect failure or a reset the backend counts as "just failed" on this worker,
    /// and the next attempt is a failover pick (`Worker.pickPlan`): untried backends of the same
    /// tier that did not just fail, else the other tier, before health checks have noticed.
    func retry(_ reason: RetryReason, status code: Int = 0) -> Bool {
        let failed = reason == .status ? nil : backend
        if let failed { worker.noteJustFailed(failed) }
        guard let c = cluster, let policy = c.retries, retriesUsed < policy.attempts, !responseStarted else { return false }
        let condition: RetryCondition =
            switch reason {
            case .connectFailure: .connectFailure
            case .resetBeforeResponse: .resetBeforeResponse
            case .status: .status(code)
            }
        guard policy.on.contains(condition) else { return false }
        if reason != .connectFailure {
            guard method.isIdempotent, requestBody == .none, requestDone else { return false }
        }
        // The budget bounds how many requests are retrying, to spare backends a retry storm. A
        // request already counted may use its remaining attempts, and a retry that leaves a
        // tier that looks down (failover) adds no load to it.
        guard worker.hasEligibleBackend(c, excluding: tried, respectLimits: false, after: failed),
            retryCounted || worker.retryBudgetAllows(c, policy) || (failed.map { worker.leavesTier(c, after: $0) } ?? false)
        else {
            return false
        }
        var carry: ByteBuffer? = nil
        if reason == .connectFailure, let up = upstream, let out = up.outBuf, !out.isEmpty {
            carry = out  // the head and any body bytes: none of it reached the failed backend
            up.outBuf = nil
        }
        closeUpstream()
        retriesUsed += 1
        if !retryCounted {
            retryCounted = true
            worker.retriesInFlight[c.index] += 1
        }
        worker.countRetry(c, reason)
        responsePhase = .awaitingHead
        upstreamFirstByteAt = 0
        carriedOutput = carry
        connectToBackend(after: failed)
        return true
    }

    /// The exchange ended: it no longer counts against the retry budget.
    func endRetryAccounting() {
        guard retryCounted else { return }
        retryCounted = false
        if let c = cluster, c.index < worker.retriesInFlight.count, worker.snapshot.clusters[c.index] === c {
            worker.retriesInFlight[c.index] -= 1
        }
    }
}
