import SluiceSystem

/// Which tier of its cluster a discovered backend serves in.
public enum BackendTier: String, Sendable, Hashable, CaseIterable {
    case primary, standby
}

/// Where a runtime backend came from (`/status` shows it; a source reconciles only its own).
public enum BackendSource: Sendable, Hashable, CustomStringConvertible {
    /// `discovery.dns`: A/AAAA records of this `host:port`.
    case dns(String)
    /// `discovery.srv`: SRV records of this name.
    case srv(String)
    /// `discovery.file`: entries of this file.
    case file(String)
    /// `POST /clusters/C/backends`.
    case api

    /// `dns`, `srv`, `file` or `api`: the `source` field of `/status`.
    public var kind: String {
        switch self {
        case .dns: "dns"
        case .srv: "srv"
        case .file: "file"
        case .api: "api"
        }
    }

    /// The query, file or "api".
    public var detail: String {
        switch self {
        case .dns(let s), .srv(let s), .file(let s): s
        case .api: "api"
        }
    }

    public var description: String { self == .api ? "api" : "\(kind) \(detail)" }
}

/// One backend a source wants in its cluster.
public struct DiscoveredBackend: Sendable, Hashable, CustomStringConvertible {
    /// Stable within the cluster: the address text unless the source names it.
    public var name: String
    public var address: SocketAddress
    public var weight: Int
    public var tier: BackendTier

    public init(name: String? = nil, address: SocketAddress, weight: Int = 1, tier: BackendTier = .primary) {
        self.name = name ?? address.description
        self.address = address
        self.weight = weight
        self.tier = tier
    }

    public var description: String { "\(name) (\(address), weight \(weight), \(tier.rawValue))" }
}

/// A source's good answer: the set it wants, and when to ask again (DNS TTL, nanoseconds).
public struct DiscoveryAnswer: Sendable, Equatable {
    public var backends: [DiscoveredBackend]
    /// The smallest TTL of the records used (nil: the source has none, e.g. a file).
    public var ttl: UInt64?

    public init(backends: [DiscoveredBackend], ttl: UInt64? = nil) {
        self.backends = backends
        self.ttl = ttl
    }
}

/// Why a refresh kept the last known set: logged once per change of text, counted as
/// `discovery_refreshes_total{result="error"}`.
public struct DiscoveryError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
