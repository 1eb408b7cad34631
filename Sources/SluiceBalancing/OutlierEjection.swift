/// What one failed request means for its backend under outlier detection: nothing yet, an
/// ejection, or an ejection refused because `max_ejected` of its tier already are out.
package enum EjectionDecision: Sendable, Equatable {
    case nothing
    /// Eject for `duration` ns; `streak` is the backend's new ejection streak.
    case eject(duration: UInt64, streak: Int)
    /// Over `max_ejected`: stays in. `warn`: log it (at most once per `refusalWarningInterval`).
    case refused(warn: Bool)
}

/// A backend's passive-health record, as loaded from its shared atomics when a failure
/// reached the threshold.
package struct EjectionHistory: Sendable, Equatable {
    /// Ejections in a row without a quiet `max_ejection` between them.
    package var streak: Int
    /// When its last ejection ended (monotonic ns); 0: never ejected.
    package var lastEnd: UInt64
    /// When a refused ejection was last logged; 0: never.
    package var lastWarning: UInt64

    package init(streak: Int = 0, lastEnd: UInt64 = 0, lastWarning: UInt64 = 0) {
        self.streak = streak
        self.lastEnd = lastEnd
        self.lastWarning = lastWarning
    }
}

/// The outlier ejection state machine (Envoy's consecutive-5xx detector), as decisions: the
/// counters live in atomics every worker shares, and the worker applies a decision to them
/// (the worker whose failure reset the count from the threshold is the one that decides).
///
/// Pure functions of values; no clock of their own. Any thread.
extension OutlierPolicy {
    /// A refused ejection is logged at most this often per backend.
    package static let refusalWarningInterval: UInt64 = 10_000_000_000

    /// Whether a failure counts: failures of requests already in flight when the backend was
    /// ejected say nothing new, so an ejected backend is not ejected again (and its time does
    /// not double) until it is back.
    @inline(__always)
    package func countsFailure(ejected: Bool) -> Bool { !ejected }

    /// Whether the `failures`-th failure in a row ejects (or asks to).
    @inline(__always)
    package func reachesThreshold(_ failures: Int) -> Bool { failures >= consecutiveFailures }

    /// The decision after `failures` in a row, for a backend of a tier of `tierSize` of which
    /// `alreadyEjected()` are ejected now (called only at the threshold: it scans the tier).
    package func decide(
        failures: Int, history: EjectionHistory, tierSize: Int, now: UInt64, alreadyEjected: () -> Int
    ) -> EjectionDecision {
        guard reachesThreshold(failures) else { return .nothing }
        guard mayEject(alreadyEjected: alreadyEjected(), tierSize: tierSize) else {
            let last = history.lastWarning
            return .refused(warn: last == 0 || now &- last >= Self.refusalWarningInterval)
        }
        let previous = streak(history.streak, lastEnd: history.lastEnd, now: now)
        return .eject(duration: ejectionTime(previousEjections: previous), streak: previous + 1)
    }
}
