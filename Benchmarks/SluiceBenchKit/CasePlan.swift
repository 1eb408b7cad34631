/// The issue-8 and issue-9 cases: what each one offers, second by second, and what it changes
/// on the way.
public enum BenchCase: String, CaseIterable, Sendable, Codable {
    /// Baseline, 3x the backends' capacity for 10 s, baseline, 10x for 10 s, baseline.
    case flashSale = "flash-sale"
    /// 10% checkout (critical) and 90% browsing (sheddable), with a 3x spike.
    case mix
    /// The backends' service time doubles mid-run (capacity halves); Sluice runs `adaptive: true`.
    case slowdown
    /// Ten ordinary clients and one that sends 20x each one's rate, keyed by `X-Client-Id`.
    case abuser
    /// Issue 9: 10x capacity on 20 cacheable URLs (`max-age=5`), then the backends down for
    /// a while (stale-if-error), then back.
    case hotPage = "hot-page"
}

/// A named stretch of a case's run.
public struct CasePhase: Sendable, Codable, Equatable {
    public var name: String
    public var seconds: Int
    /// Counted as overload: recovery is measured from the end of each such phase.
    public var isSpike: Bool

    public init(name: String, seconds: Int, isSpike: Bool = false) {
        self.name = name
        self.seconds = seconds
        self.isSpike = isSpike
    }
}

/// One client (or class of clients) of a case: its requests, its own connections, and its
/// offered rate in each phase. Its answers are counted under `group`.
public struct LoadStream: Sendable, Codable, Equatable {
    public var group: String
    public var path: String
    /// Extra request header lines, "Name: value".
    public var headers: [String]
    public var connections: Int
    /// Requests per second, one entry per phase of the plan.
    public var rates: [Int]

    public init(group: String, path: String, headers: [String] = [], connections: Int, rates: [Int]) {
        self.group = group
        self.path = path
        self.headers = headers
        self.connections = connections
        self.rates = rates
    }

    /// The request bytes this stream sends (HTTP/1.1 keep-alive GET).
    public var request: [UInt8] {
        var head = "GET \(path) HTTP/1.1\r\nHost: bench\r\nUser-Agent: sluice-bench\r\n"
        for h in headers { head += h + "\r\n" }
        return Array((head + "\r\n").utf8)
    }
}

/// A scheduled change of the built-in backends: from `atSecond` on, this service time; and
/// when `running` is set, the backends are stopped (false: port closed and every connection
/// dropped, as if their processes were killed) or started again on the same ports (true).
public struct BackendChange: Sendable, Codable, Equatable {
    public var atSecond: Int
    public var serviceTimeMillis: Int
    public var running: Bool? = nil
}

/// What the cache case asks of the backends and of the balancers' caches.
public struct CacheSettings: Sendable, Codable, Equatable {
    /// Distinct URLs of the load.
    public var urls: Int
    /// The backends answer with `Cache-Control: max-age=` this (seconds).
    public var maxAge: Int
    /// Seconds past freshness a stale answer may be served while it is refreshed.
    public var staleWhileRevalidate: Int
    /// Seconds past freshness a stale answer may be served when the backends fail.
    public var staleIfError: Int
}

/// The knobs every case shares: the backends' capacity, the clients, the timeout.
public struct CaseParameters: Sendable, Codable, Equatable {
    public var backends = 2
    public var backendConcurrency = 8
    public var serviceTimeMillis = 20
    public var bodySize = 512
    /// Keep-alive connections of the whole load (split between streams by their share).
    public var connections = 1000
    public var timeoutMillis = 3000
    /// The baseline as a share of the backends' capacity.
    public var baselineShare = 0.5
    public var warmupSeconds = 2
    /// Seconds per target of the cases that scale (hot-page; nil: the case's default).
    public var durationSeconds: Int?

    public init() {}

    /// Requests per second the built-in backends can serve (concurrency / service time).
    public var capacity: Int { backends * backendConcurrency * 1000 / max(1, serviceTimeMillis) }
    public var baselineRate: Int { Int((Double(capacity) * baselineShare).rounded()) }
}

/// Everything one case run does: phases, streams, backend changes, and the route settings
/// the generated configs need. Pure value; any thread.
public struct CasePlan: Sendable, Codable, Equatable {
    public var benchCase: BenchCase
    public var parameters: CaseParameters
    public var phases: [CasePhase]
    public var streams: [LoadStream]
    public var changes: [BackendChange] = []
    /// The group whose requests are critical (mix), if any.
    public var criticalGroup: String?
    /// The group whose latency must stay unchanged (abuser: "others"), if any.
    public var protectedGroup: String?
    /// Per-client rate limit for the abuser case: requests per second and burst.
    public var rateLimitPerClient: Int?
    public var rateLimitBurst: Int?
    /// Sluice runs with `limits.adaptive: true`.
    public var adaptive = false
    /// The cache case: cacheable backends and a cache on every target (nil: no cache).
    public var cache: CacheSettings?

    public var totalSeconds: Int { phases.reduce(0) { $0 + $1.seconds } }

    /// Every group, in the order streams name them.
    public var groups: [String] {
        var out: [String] = []
        for s in streams where !out.contains(s.group) { out.append(s.group) }
        return out
    }

    /// Index of the phase second `s` belongs to (nil past the end).
    public func phaseIndex(atSecond s: Int) -> Int? {
        var t = 0
        for (i, p) in phases.enumerated() {
            if s >= t && s < t + p.seconds { return i }
            t += p.seconds
        }
        return nil
    }

    /// First second of phase `i`.
    public func startSecond(ofPhase i: Int) -> Int { phases.prefix(i).reduce(0) { $0 + $1.seconds } }

    /// Offered rate of stream `k` during second `s` (0 outside the run).
    public func rate(stream k: Int, second s: Int) -> Int {
        guard let i = phaseIndex(atSecond: s), i < streams[k].rates.count else { return 0 }
        return streams[k].rates[i]
    }

    /// Offered rate of the whole load during second `s`.
    public func totalRate(second s: Int) -> Int { streams.indices.reduce(0) { $0 + rate(stream: $1, second: s) } }

    /// The service time in force during second `s`.
    public func serviceTimeMillis(atSecond s: Int) -> Int {
        changes.filter { $0.atSecond <= s }.max { $0.atSecond < $1.atSecond }?.serviceTimeMillis ?? parameters.serviceTimeMillis
    }

    /// The backends' capacity during second `s`.
    public func capacity(atSecond s: Int) -> Int {
        parameters.backends * parameters.backendConcurrency * 1000 / max(1, serviceTimeMillis(atSecond: s))
    }
}
