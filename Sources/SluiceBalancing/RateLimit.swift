/// GCRA, the generic cell rate algorithm (ITU-T I.371): one client's request rate limited to
/// `rate` per second with bursts of `burst`, kept as a single number, the theoretical arrival
/// time (TAT) of the client's next request.
///
/// The emission interval is T = 1/rate and the tolerance tau = (burst - 1) × T: a request at
/// `now` is allowed when TAT - tau <= now, and then moves TAT to max(TAT, now) + T. A fresh
/// client (TAT <= now) may send `burst` requests at once, then one per T; a refused one learns
/// the exact wait until its next allowed request. No windows, no timers.
///
/// Pure value over a caller-supplied monotonic clock in nanoseconds; any thread. A few integer
/// operations per decision, saturating (no overflow at any clock value or configuration).
package struct RateLimit: Sendable, Equatable {
    /// The outcome of one request.
    package enum Decision: Equatable, Sendable {
        /// Let it through; the client's state becomes `tat`.
        case allowed(tat: UInt64)
        /// Refuse it; its next request is allowed `wait` nanoseconds from now (state unchanged).
        case refused(wait: UInt64)
    }

    /// T in nanoseconds (at least 1).
    package let interval: UInt64
    /// tau in nanoseconds.
    package let tolerance: UInt64

    /// `rate` requests per second (above 0), `burst` at once (at least 1). T is rounded to the
    /// nearest nanosecond, so a rate whose interval is not a whole number of nanoseconds (3/s)
    /// drifts by under a nanosecond per request.
    package init(rate: Double, burst: Int) {
        precondition(rate > 0 && burst >= 1, "rate above 0, burst at least 1")
        let t = (1e9 / rate).rounded()
        interval = t >= 1.8e19 ? UInt64.max / 2 : max(1, UInt64(t))
        let (tau, overflow) = interval.multipliedReportingOverflow(by: UInt64(burst - 1))
        tolerance = overflow ? UInt64.max / 2 : min(tau, UInt64.max / 2)
    }

    /// The decision for a request at `now` from a client whose state is `tat` (0, or any
    /// value <= now: a client not seen recently, with its full burst).
    @inline(__always)
    package func decide(tat: UInt64, now: UInt64) -> Decision {
        let start = max(tat, now)
        let ahead = start - now
        if ahead <= tolerance {
            let (next, overflow) = start.addingReportingOverflow(interval)
            return .allowed(tat: overflow ? UInt64.max : next)
        }
        return .refused(wait: ahead - tolerance)
    }

    /// The state of a client that starts with its burst already spent (one that may have
    /// been forgotten while it was limited): allowed at the sustained rate only.
    @inline(__always)
    package func spentState(now: UInt64) -> UInt64 {
        let (s, overflow) = now.addingReportingOverflow(tolerance)
        return overflow ? UInt64.max : s
    }

    /// How long after its last allowed request a client's state stays in the future: the
    /// longest time a table must remember it (tau + T).
    package var horizon: UInt64 { tolerance + interval }

    /// `Retry-After` for a refusal: the wait rounded up to whole seconds, at least 1
    /// (RFC 9110 §10.2.3 counts in seconds; rounding up never invites an early retry).
    @inline(__always)
    package static func retryAfterSeconds(wait: UInt64) -> Int {
        let s = wait / 1_000_000_000 + (wait % 1_000_000_000 == 0 ? 0 : 1)
        return Int(min(max(s, 1), UInt64(Int32.max)))
    }
}
