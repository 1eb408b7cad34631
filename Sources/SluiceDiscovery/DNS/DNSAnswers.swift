import SluiceSystem

/// From validated replies to what discovery wants: addresses, SRV tiers, TTLs. Pure.
///
/// CNAME chains are followed inside the records given (at most `maxCNAMEs` links; no new
/// queries), and a TTL is the smallest of the records actually used, chain links included.
enum DNSAnswers {
    static let maxCNAMEs = 8

    /// The addresses (raw 4 or 16 bytes) of one lookup type, and the smallest TTL (seconds) used.
    struct Addresses: Equatable {
        var bytes: [[UInt8]] = []
        var ttl: UInt32?
    }

    /// One SRV record chosen for a tier: its target (canonical, with the trailing dot).
    struct SRVTarget: Equatable {
        var target: String
        var port: Int
        var weight: Int
        var tier: BackendTier
        /// "target:port", the target without its trailing dot.
        var name: String { "\(target.hasSuffix(".") ? String(target.dropLast()) : target):\(port)" }
    }

    /// Follows CNAMEs from `name` (canonical) through `records`: the chain's end and the
    /// smallest TTL of its links, or an error past `maxCNAMEs` links.
    static func chainEnd(_ name: String, in records: [DNSRecord], label: String) -> Result<(String, UInt32?), DiscoveryError> {
        var current = name
        var ttl: UInt32?
        for _ in 0...maxCNAMEs {
            guard let link = records.first(where: { $0.name == current && isCNAME($0.data) }),
                case .cname(let target) = link.data
            else { return .success((current, ttl)) }
            current = target
            ttl = min(ttl ?? link.ttl, link.ttl)
        }
        return .failure(DiscoveryError("\(label): CNAME chain of \(name) longer than \(maxCNAMEs) links"))
    }

    /// The A (`type == .a`) or AAAA records of `name` in `records`, after its CNAME chain.
    static func addresses(of name: String, type: DNSType, in records: [DNSRecord], label: String) -> Result<Addresses, DiscoveryError> {
        let end: String
        let chainTTL: UInt32?
        switch chainEnd(name, in: records, label: label) {
        case .failure(let e): return .failure(e)
        case .success(let (n, t)): (end, chainTTL) = (n, t)
        }
        var out = Addresses()
        for r in records where r.name == end {
            switch (r.data, type) {
            case (.a(let b), .a), (.aaaa(let b), .aaaa):
                out.bytes.append(b)
                out.ttl = min(out.ttl ?? r.ttl, r.ttl)
            default:
                continue
            }
        }
        if !out.bytes.isEmpty, let c = chainTTL { out.ttl = min(out.ttl ?? c, c) }
        return .success(out)
    }

    /// The backends of `host:port` from its A and AAAA addresses: sorted by name, deduplicated,
    /// weight 1, primary; an error when neither type has any.
    /// `from` names the resolvers that answered (for the error).
    static func lookupAnswer(host: String, port: Int, a: Addresses, aaaa: Addresses, from: String) -> Result<
        DiscoveryAnswer, DiscoveryError
    > {
        let all = a.bytes + aaaa.bytes
        guard !all.isEmpty else {
            return .failure(DiscoveryError("A/AAAA query for \(dotted(host)): no A or AAAA records (NOERROR with no data, \(from))"))
        }
        var seen = Set<String>()
        var backends: [DiscoveredBackend] = []
        for b in all {
            guard let address = SocketAddress.fromRecord(b, port: port) else { continue }
            let backend = DiscoveredBackend(address: address)
            if seen.insert(backend.name).inserted { backends.append(backend) }
        }
        backends.sort { $0.name < $1.name }
        let ttls = [a.ttl, aaaa.ttl].compactMap { $0 }
        return .success(DiscoveryAnswer(backends: backends, ttl: ttls.min().map { nanos($0) }))
    }

    /// The SRV records of `name` (canonical) in `reply`, grouped by priority: the lowest
    /// priority is the primary tier, the next distinct one standby, higher ones ignored. Weight
    /// 0 counts as 1. A target:port named twice is kept once (its first, lowest-priority record).
    static func srvTargets(name: String, reply: DNSReply, label: String) -> Result<([SRVTarget], UInt32?), DiscoveryError> {
        let end: String
        let chainTTL: UInt32?
        switch chainEnd(name, in: reply.answers, label: label) {
        case .failure(let e): return .failure(e)
        case .success(let (n, t)): (end, chainTTL) = (n, t)
        }
        var records: [(priority: UInt16, weight: UInt16, port: UInt16, target: String, ttl: UInt32)] = []
        for r in reply.answers where r.name == end {
            if case .srv(let p, let w, let port, let t) = r.data { records.append((p, w, port, t, r.ttl)) }
        }
        guard !records.isEmpty else { return .failure(DiscoveryError("\(label): no SRV records (NOERROR with no data)")) }
        let priorities = Array(Set(records.map(\.priority))).sorted()
        var targets: [SRVTarget] = []
        var seen = Set<String>()
        var ttl = chainTTL
        records.sort { ($0.priority, $1.weight, $0.target, $0.port) < ($1.priority, $0.weight, $1.target, $1.port) }
        for r in records {
            let tier: BackendTier
            if r.priority == priorities[0] {
                tier = .primary
            } else if priorities.count > 1 && r.priority == priorities[1] {
                tier = .standby
            } else {
                continue
            }
            guard r.target != "." else {
                return .failure(DiscoveryError("\(label): an SRV record has target \".\" (service not available)"))
            }
            guard r.port > 0 else { return .failure(DiscoveryError("\(label): SRV record for \(r.target) has port 0")) }
            let t = SRVTarget(target: r.target, port: Int(r.port), weight: max(Int(r.weight), 1), tier: tier)
            guard seen.insert(t.name).inserted else { continue }
            targets.append(t)
            ttl = min(ttl ?? r.ttl, r.ttl)
        }
        return .success((targets, ttl))
    }

    /// The addresses of `target` that `reply` already carries (answer and additional sections).
    static func includedAddresses(of target: String, in reply: DNSReply, label: String) -> Addresses {
        let records = reply.answers + reply.additional
        var out = Addresses()
        for type in [DNSType.a, .aaaa] {
            guard case .success(let found) = addresses(of: target, type: type, in: records, label: label) else { continue }
            out.bytes += found.bytes
            if let t = found.ttl { out.ttl = min(out.ttl ?? t, t) }
        }
        return out
    }

    /// One backend per SRV target: its lowest sorted address with the record's port. `addresses`
    /// holds every target's addresses (non-empty); `ttl` is the SRV side's smallest TTL.
    static func srvAnswer(_ targets: [SRVTarget], addresses: [String: Addresses], ttl: UInt32?) -> Result<
        DiscoveryAnswer, DiscoveryError
    > {
        var backends: [DiscoveredBackend] = []
        var smallest = ttl
        for t in targets {
            let found = addresses[t.target] ?? Addresses()
            let candidates = found.bytes.compactMap { SocketAddress.fromRecord($0, port: t.port) }.sorted {
                $0.description < $1.description
            }
            guard let first = candidates.first else {
                return .failure(DiscoveryError("SRV target \(t.target) has no address"))
            }
            if let a = found.ttl { smallest = min(smallest ?? a, a) }
            backends.append(DiscoveredBackend(name: t.name, address: first, weight: t.weight, tier: t.tier))
        }
        backends.sort { ($0.tier == .primary ? 0 : 1, $0.name) < ($1.tier == .primary ? 0 : 1, $1.name) }
        return .success(DiscoveryAnswer(backends: backends, ttl: smallest.map { nanos($0) }))
    }

    static func nanos(_ seconds: UInt32) -> UInt64 { UInt64(seconds) * 1_000_000_000 }

    static func dotted(_ name: String) -> String { name.hasSuffix(".") ? name : name + "." }

    private static func isCNAME(_ d: DNSRecordData) -> Bool {
        if case .cname = d { return true }
        return false
    }
}
