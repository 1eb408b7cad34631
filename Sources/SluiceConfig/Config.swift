import SluiceSystem

/// The whole validated configuration: an immutable value, built by `ConfigLoader`.
///
/// Every key of DESIGN.md §2 has a field here; durations are nanoseconds, sizes bytes,
/// percentages fractions (0.5 for `50%`). Keys a later feature uses are validated already.
public struct Config: Sendable {
    /// The file this was loaded from (for messages and `/status`).
    public var path: String
    /// Event-loop threads; `auto` resolved to the number of CPU cores.
    public var workers: Int
    public var admin: AdminConfig
    public var accessLog: AccessLogConfig
    public var limits: GlobalLimits
    public var timeouts: Timeouts
    /// The top-level `cache` block: memory of the response cache (used by routes with `cache`).
    public var cache = CacheMemoryConfig()
    public var listeners: [ListenerConfig]
    public var clusters: [ClusterConfig]

    public func cluster(named name: String) -> ClusterConfig? { clusters.first { $0.name == name } }
}

public struct AdminConfig: Sendable {
    /// `admin.listen`, default 127.0.0.1:9901; nil when the admin block says `listen: off`.
    public var listen: SocketAddress?
    public var listenText: String
    /// `admin.token_file`, resolved against the config file's folder.
    public var tokenFile: String?
    /// The token read from `tokenFile` at load (non-empty, trimmed); nil without a token file.
    public var token: String?
    /// The line of `admin.listen` in the file (of `admin:`, or 1, when the default is used).
    public var line = 1
    /// `admin.alert_webhook`: where traffic-state changes are POSTed (nil: nowhere).
    public var alertWebhook: WebhookTarget? = nil
}

/// An `http://host:port/path` URL, resolved at load (a reload resolves it again).
public struct WebhookTarget: Sendable, Equatable {
    public var address: SocketAddress
    /// The `Host` field to send: the URL's host and port as written.
    public var host: String
    /// The path and query, "/" when the URL has none.
    public var path: String
    /// The URL as written (for logs).
    public var url: String

    public init(address: SocketAddress, host: String, path: String, url: String) {
        self.address = address
        self.host = host
        self.path = path
        self.url = url
    }

    /// Parses and resolves `url`; the error says what is wrong in words for `FILE:LINE: …`.
    public static func parse(_ url: String) -> Result<WebhookTarget, ConfigMessage> {
        let lower = url.lowercased()
        if lower.hasPrefix("https://") {
            return .failure(ConfigMessage("only http:// is supported (put a local relay in front of an https receiver): \"\(url)\""))
        }
        guard lower.hasPrefix("http://") else {
            return .failure(ConfigMessage("expected a URL like http://127.0.0.1:9000/alerts, got \"\(url)\""))
        }
        let rest = url.dropFirst("http://".count)
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = String(rest[..<slash])
        let path = slash == rest.endIndex ? "/" : String(rest[slash...])
        guard !authority.isEmpty, !authority.contains("@"), !path.contains(where: { $0 == " " || $0 == "\r" || $0 == "\n" }) else {
            return .failure(ConfigMessage("expected a URL like http://127.0.0.1:9000/alerts, got \"\(url)\""))
        }
        let withPort: String
        if authority.hasSuffix("]") || !authority.contains(":") { withPort = authority + ":80" } else { withPort = authority }
        do {
            return .success(WebhookTarget(address: try SocketAddress.resolve(withPort), host: authority, path: path, url: url))
        } catch {
            return .failure(ConfigMessage(error.message))
        }
    }
}

/// A configuration problem in words, before it gets its file and line.
public struct ConfigMessage: Error, Sendable, Equatable {
    public var text: String
    public init(_ text: String) { self.text = text }
}

public enum AccessLogTarget: Sendable, Equatable {
    case stdout, stderr, off
    case file(String)
}

public enum AccessLogFormat: String, Sendable, CaseIterable {
    case json, combined
}

public struct AccessLogConfig: Sendable {
    public var target: AccessLogTarget = .stdout
    public var format: AccessLogFormat = .json
}

public struct GlobalLimits: Sendable {
    public var maxConnections = 50_000
    public var maxRequestHead = 32 * 1024
    /// Header fields in one request head; past it 431.
    public var maxRequestHeaders = 256
    public var maxRequestBody = 100 * 1024 * 1024
}

public struct Timeouts: Sendable {
    public var clientHead: UInt64 = 10_000_000_000
    public var clientIdle: UInt64 = 60_000_000_000
    public var connect: UInt64 = 2_000_000_000
    public var response: UInt64 = 30_000_000_000
    public var upstreamIdle: UInt64 = 60_000_000_000
    public var drain: UInt64 = 30_000_000_000
    /// On SIGTERM (and an upgrade): `/readyz` answers 503 this long before accepting stops.
    public var readyGrace: UInt64 = 0
}

public struct ListenerConfig: Sendable {
    public var name: String
    public var listenText: String
    public var address: SocketAddress
    public var tls: TLSConfig?
    public var routes: [RouteConfig]
    /// The line of its `listen` key in the file, for errors found at run time (bind).
    public var line = 1
}

public struct TLSConfig: Sendable {
    public struct Certificate: Sendable {
        public var cert: String
        public var key: String
    }
    public var certificates: [Certificate]
    public var minVersion: String = "1.2"
    public var handshakeTimeout: UInt64 = 10_000_000_000
}

public struct RouteConfig: Sendable {
    public struct Split: Sendable {
        public var cluster: String
        public var weight: Int
    }
    /// Host to match, lowercased, without port; `*.example.com` matches subdomains.
    public var host: String?
    public var pathPrefix: String?
    /// One entry for `cluster:`, several for `split:`.
    public var targets: [Split]
    /// Who keeps capacity when it runs short (DESIGN §3 "Priorities under overload").
    public var priority: RequestPriority = .normal
    /// Per-client request rate (GCRA), or nil.
    public var rateLimit: RateLimitConfig? = nil
    /// The route's response cache (RFC 9111), or nil: not cached.
    public var cache: RouteCacheConfig? = nil
}

/// The top-level `cache` block: one memory budget for every cached route of the process.
public struct CacheMemoryConfig: Sendable, Equatable {
    /// All stored responses together (heads and bodies); least recently used go first.
    public var maxSize = 256 * 1024 * 1024
    /// Larger responses are streamed to the client and never stored.
    public var maxObject = 2 * 1024 * 1024
    public init() {}
}

/// A route's `cache` block (DESIGN §3 "Cache"). Durations in nanoseconds.
public struct RouteCacheConfig: Sendable, Equatable {
    /// Freshness of a response that states none (0: only what the response allows explicitly).
    public var defaultTTL: UInt64 = 0
    /// Cap on any freshness lifetime.
    public var maxTTL: UInt64 = 3_600_000_000_000
    /// Serve stale while refreshing in the background, unless the response says otherwise.
    public var staleWhileRevalidate: UInt64 = 0
    /// Serve stale when the backend fails (5xx, refused, all down), unless the response says otherwise.
    public var staleIfError: UInt64 = 0
    /// Serve stale instead of the 503 admission would send.
    public var staleIfOverloaded: UInt64 = 0
    /// One backend fetch per key at a time; concurrent misses share it.
    public var coalesce = true
    public init() {}
}

/// A route's `priority`: in a queue critical goes before normal, normal before sheddable.
/// The raw values order them (smaller is more important) and index per-priority counters.
public enum RequestPriority: Int, Sendable, CaseIterable, Comparable {
    case critical = 0
    case normal = 1
    case sheddable = 2

    public var label: String {
        switch self {
        case .critical: return "critical"
        case .normal: return "normal"
        case .sheddable: return "sheddable"
        }
    }

    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
}

/// A route's `rate_limit`: GCRA per client key.
public struct RateLimitConfig: Sendable, Equatable {
    public enum Key: Sendable, Equatable {
        case clientIP
        /// Lowercased field name; a request without it is limited by its client address.
        case header(String)
    }
    public var key: Key = .clientIP
    /// Sustained requests per second (`20/s`, `600/m`).
    public var rate: Double
    /// Requests a client may send at once before the sustained rate applies.
    public var burst: Int

    public init(key: Key = .clientIP, rate: Double, burst: Int) {
        self.key = key
        self.rate = rate
        self.burst = burst
    }
}

public enum BalanceAlgorithm: String, Sendable, CaseIterable {
    case roundRobin = "round_robin"
    case leastRequest = "least_request"
    case random
    case hash
}

public enum HashKey: Sendable, Equatable {
    case clientIP
    case header(String)
    case cookie(String)
}

public struct BackendConfig: Sendable {
    public var name: String
    public var addressText: String
    public var address: SocketAddress
    public var weight: Int

    public init(name: String, addressText: String, address: SocketAddress, weight: Int) {
        self.name = name
        self.addressText = addressText
        self.address = address
        self.weight = weight
    }
}

public enum WhenAllDown: String, Sendable, CaseIterable {
    case failOpen = "fail_open"
    case reject
}

public struct FailoverConfig: Sendable {
    public var overprovisioning = 1.4
    public var whenAllDown: WhenAllDown = .failOpen
}

public struct HealthCheckConfig: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable { case http, tcp }
    public var type: Kind = .http
    public var path = "/health"
    public var host: String? = nil
    public var interval: UInt64 = 2_000_000_000
    public var timeout: UInt64 = 1_000_000_000
    public var jitter = 0.1
    public var rise = 2
    public var fall = 3
    /// Accepted statuses as closed ranges.
    public var expectStatus: [ClosedRange<Int>] = [200...399]
    public var expectBody: String? = nil
}

public struct OutlierDetectionConfig: Sendable {
    public var consecutiveFailures = 5
    public var baseEjection: UInt64 = 10_000_000_000
    public var maxEjection: UInt64 = 300_000_000_000
    public var maxEjected = 0.5
}

public enum RetryCondition: Sendable, Hashable {
    case connectFailure
    case resetBeforeResponse
    case status(Int)
}

public struct RetryConfig: Sendable {
    public var attempts = 2
    public var on: Set<RetryCondition> = [.connectFailure, .resetBeforeResponse, .status(502), .status(503), .status(504)]
    public var budget = 0.2
}

public struct ClusterLimits: Sendable {
    public var maxRequestsPerBackend = 256
    public var maxQueue = 1024
    public var queueTimeout: UInt64 = 2_000_000_000
    public var queueTarget: UInt64 = 50_000_000
    /// Share of each backend's slots that only critical requests may take.
    public var reserveForCritical = 0.1
    /// Each backend's limit follows its measured latency, between 4 and `maxRequestsPerBackend`.
    public var adaptive = false
}

public struct UpstreamTLSConfig: Sendable {
    public var caFile: String? = nil
    public var serverName: String? = nil
    public var verify = true
}

public struct ClusterConfig: Sendable {
    public var name: String
    public var balance: BalanceAlgorithm = .roundRobin
    public var hashOn: HashKey = .clientIP
    public var backends: [BackendConfig]
    public var standby: [BackendConfig] = []
    public var failover = FailoverConfig()
    public var slowStart: UInt64 = 0
    public var healthCheck: HealthCheckConfig? = nil
    public var outlierDetection: OutlierDetectionConfig? = nil
    public var retries: RetryConfig? = nil
    public var limits: ClusterLimits? = nil
    /// Effective timeouts: the globals with this cluster's overrides applied.
    public var connectTimeout: UInt64
    public var responseTimeout: UInt64
    public var upstreamIdleTimeout: UInt64
    public var upstreamTLS: UpstreamTLSConfig? = nil
    /// More backends found at run time (nil: only `backends` and `standby`).
    public var discovery: DiscoveryConfig? = nil
}
