import SluiceBuffers
import SluiceConfig
import SluiceSystem

/// The worker-side half of a failed attempt: blame, capacity for a retry, the retry itself.
/// The rule of when to retry or replay is `RetryDecision`, run by the `Exchange`.
extension ClientConnection {
    /// Counts `failure` against the current backend: error counters, outlier detection, and
    /// "just failed" on this worker after a connect failure or a reset (so the next attempt's
    /// failover pick skips it before health checks have noticed, `Worker.pickPlan`).
    func blame(_ failure: UpstreamFailure) {
        switch failure {
        case .connect:
            noteBackendFailure()
            if let b = backend { worker.noteJustFailed(b) }
        case .closedBeforeHead(_, let received):
            noteBackendFailure()
            if !received, let b = backend { worker.noteJustFailed(b) }
        case .responseTimeout:
            noteBackendFailure()
        }
    }

    /// What the worker can offer a retry of this exchange. `failed`: the backend that refused
    /// or reset it (a failover pick), nil after a 5xx or a response timeout.
    func retryCapacity(after failed: BackendRuntime?) -> RetryCapacity {
        guard let wc = cluster, let policy = wc.runtime.retries else {
            return RetryCapacity(anotherBackend: false, withinBudget: false, leavesTier: false)
        }
        return RetryCapacity(
            anotherBackend: worker.hasEligibleBackend(wc, excluding: exchange.tried, lane: lane, respectLimits: false, after: failed),
            withinBudget: worker.retryBudgetAllows(wc, policy),
            leavesTier: failed.map { worker.leavesTier(wc, after: $0) } ?? false)
    }

    /// Tries the request on another backend (the exchange decided so). After a connect failure
    /// the unsent bytes (head and any body) move to the next connection: none of it reached
    /// the failed backend.
    func retry(_ reason: RetryReason, carry: Bool) {
        guard let wc = cluster else { return }
        let failed = reason == .status ? nil : backend
        var carried: ByteBuffer? = nil
        if carry, let up = upstream, let out = up.channel.outBuf, !out.isEmpty {
            carried = out
            up.channel.outBuf = nil
        }
        closeUpstream()
        // The budget slot is this cluster's (`endRetryAccounting` gives it back to the same one).
        if exchange.retriesUsed == 1 { wc.retriesInFlight += 1 }
        worker.countRetry(wc, reason)
        carriedOutput = carried
        connectToBackend(after: failed)
    }

    /// Sends the request again on a fresh connection: the pooled one was stale.
    func replay() {
        let failed = backend
        if let up = upstream {
            upstream = nil
            up.close()
        }
        connectToBackend(after: failed)  // a failover pick: skips backends that just failed
    }

    /// The exchange ended: it no longer counts against the retry budget of the cluster it
    /// took the slot from (retired or not).
    func endRetryAccounting() {
        guard exchange.end(), let wc = cluster else { return }
        wc.retriesInFlight -= 1
    }
}
