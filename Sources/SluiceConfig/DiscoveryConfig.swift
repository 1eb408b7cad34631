import SluiceSystem

/// `clusters[].discovery`: where a cluster finds more backends at run time (DESIGN §2).
public struct DiscoveryConfig: Sendable, Equatable {
    public enum Source: Sendable, Equatable {
        /// A/AAAA records of `host`, each address a primary on `port`.
        case dns(host: String, port: Int)
        /// SRV records of this name: the lowest priority number is the primary tier, the next standby.
        case srv(String)
        /// A YAML or JSON list of `{name, address, weight, tier}`, re-read when it changes.
        case file(String)
    }

    public var source: Source
    /// DNS: re-resolve at the records' TTL, between 1 s and this (ns). File: re-read at least this often.
    public var refresh: UInt64 = 5_000_000_000
    /// `host:port` of the DNS servers to ask, in order; nil: the `nameserver` lines of /etc/resolv.conf.
    public var resolvers: [SocketAddress]? = nil
    public var maxRemoved: MaxRemoved = .share(0.5)

    public init(source: Source) { self.source = source }
}

/// `discovery.max_removed`: how many backends one refresh may take out at most.
public enum MaxRemoved: Sendable, Equatable {
    /// `50%`: this share of the source's current backends (at least one).
    case share(Double)
    /// `2`: this many.
    case count(Int)

    /// How many of `current` backends one refresh may drain.
    public func allowed(of current: Int) -> Int {
        switch self {
        case .share(let s): max(1, Int((Double(current) * s).rounded(.down)))
        case .count(let n): n
        }
    }
}
