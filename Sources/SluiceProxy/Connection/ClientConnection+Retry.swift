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
        guard let c = cluster, let policy = c.retries else {
            return RetryCapacity(anotherBackend: false, withinBudget: false, leavesTier: false)
        }
        return RetryCapacity(
            anotherBackend: worker.hasEligibleBackend(c, excluding: exchange.tried, respectLimits: false, after: failed),
            withinBudget: worker.retryBudgetAllows(c, policy),
            leavesTier: failed.map { worker.leavesTier(c, after: $0) } ?? false)
    }

    /// Tries the request on another backend (the exchange decided so). After a connect failure
    /// the unsent bytes (head and any body) move to the next connection: none of it reached
    /// the failed backend.
    func retry(_ reason: RetryReason, carry: Bool) {
        guard let c = cluster else { return }
        let failed = reason == .status ? nil : backend
        var carried: ByteBuffer? = nil
        if carry, let up = upstream, let out = up.channel.outBuf, !out.isEmpty {
            carried = out
            up.channel.outBuf = nil
        }
        closeUpstream()
        if exchange.retriesUsed == 1 { worker.retriesInFlight[c.index] += 1 }
        worker.countRetry(c, reason)
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

    /// The exchange ended: it no longer counts against the retry budget.
    func endRetryAccounting() {
        guard exchange.end(), let c = cluster else { return }
        if c.index < worker.retriesInFlight.count, worker.snapshot.clusters[c.index] === c {
            worker.retriesInFlight[c.index] -= 1
        }
    }
}
