/// One phase of a load profile: a name, how long, and the offered rate.
public struct Phase: Sendable, Codable {
    public var name: String
    public var seconds: Int
    public var rate: Int

    public init(name: String, seconds: Int, rate: Int) {
        self.name = name
        self.seconds = seconds
        self.rate = rate
    }
}

/// What a benchmark run does: the load profile, the clients, and the backends' capacity.
public struct Scenario: Sendable, Codable {
    /// Requests per second in the baseline phases.
    public var rate = 1000
    /// The spike offers `rate × spikeFactor`.
    public var spikeFactor = 5.0
    public var warmupSeconds = 2
    public var baselineSeconds = 5
    public var spikeSeconds = 5
    public var recoverySeconds = 8
    /// Keep-alive connections the load generator keeps open.
    public var connections = 1000
    /// Closed loop: each connection sends its next request as soon as the last is answered
    /// (maximum throughput); open loop (default): arrivals at the offered rate, latency from
    /// each request's intended send time (no coordinated omission).
    public var closedLoop = false
    /// A request unanswered after this long counts as a timeout.
    public var timeoutMillis = 3000
    public var path = "/"
    /// Built-in backends and their capacity.
    public var backends = 3
    public var backendConcurrency = 8
    public var serviceTimeMillis = 10
    public var bodySize = 512
    /// Real backends instead of the built-in ones (host:port).
    public var upstreams: [String] = []

    public init() {}

    /// Warm-up, baseline, spike, recovery.
    public var phases: [Phase] {
        let spikeRate = Int((Double(rate) * spikeFactor).rounded())
        return [
            Phase(name: "warmup", seconds: warmupSeconds, rate: rate),
            Phase(name: "baseline", seconds: baselineSeconds, rate: rate),
            Phase(name: "spike", seconds: spikeSeconds, rate: spikeRate),
            Phase(name: "recovery", seconds: recoverySeconds, rate: rate),
        ].filter { $0.seconds > 0 }
    }

    public var totalSeconds: Int { phases.reduce(0) { $0 + $1.seconds } }

    /// Requests per second the built-in backends can serve (concurrency / service time).
    public var backendCapacity: Int {
        guard serviceTimeMillis > 0 else { return Int.max }
        return backends * backendConcurrency * 1000 / serviceTimeMillis
    }

    /// The phase that second `s` (from 0) belongs to.
    public func phase(atSecond s: Int) -> Phase? {
        var t = 0
        for p in phases {
            if s < t + p.seconds { return p }
            t += p.seconds
        }
        return nil
    }
}
