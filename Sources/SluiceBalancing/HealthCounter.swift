/// A backend's health as consecutive check results flip it (HAProxy's rise/fall).
///
/// Pure value: `record` returns the new state when it changed, nil otherwise.
public struct HealthCounter: Sendable, Equatable {
    public private(set) var healthy: Bool
    public let rise: Int
    public let fall: Int
    private var passes = 0
    private var failures = 0

    public init(healthy: Bool, rise: Int, fall: Int) {
        self.healthy = healthy
        self.rise = max(1, rise)
        self.fall = max(1, fall)
    }

    /// Records one check result; returns the new state if this result flipped it.
    public mutating func record(pass: Bool) -> Bool? {
        if pass {
            failures = 0
            passes += 1
            if !healthy && passes >= rise {
                healthy = true
                passes = 0
                return true
            }
        } else {
            passes = 0
            failures += 1
            if healthy && failures >= fall {
                healthy = false
                failures = 0
                return false
            }
        }
        return nil
    }
}
