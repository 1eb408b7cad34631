/// Something that happened, for the dashboard's time axis and `/history` (DESIGN §4).
struct HistoryEvent: Equatable {
    enum Kind: String {
        /// A backend's state changed (healthy, unhealthy, draining, disabled).
        case health
        /// A backend was ejected by outlier detection.
        case ejection
        /// A cluster's standby share crossed 0, 50% or 100%.
        case failover
        /// A reload was applied or refused.
        case reload
        /// A cluster started or stopped shedding.
        case shedding
        /// A cluster's traffic state changed (calm, rising, storm).
        case traffic
        /// A backend joined, left or was removed at run time (discovery or the API).
        case discovery
    }

    /// Wall-clock time, Unix seconds.
    var t: Double
    var kind: Kind
    var cluster: String? = nil
    var backend: String? = nil
    var text: String
    /// For `traffic`: the states changed from and to.
    var from: String? = nil
    var to: String? = nil
}
