import SluiceSystem
import Yams

/// Decodes `clusters[].discovery` (DESIGN §2): exactly one source, its refresh, resolvers
/// and `max_removed`, every mistake reported with FILE:LINE.
enum DiscoveryDecoder {
    static let keys = ["dns", "srv", "file", "refresh", "resolvers", "max_removed"]

    static func decode(_ node: Node, what: String, _ ctx: DecodeContext) -> DiscoveryConfig? {
        guard let m = MappingReader(node, ctx, what: what, known: keys) else { return nil }
        let given = ["dns", "srv", "file"].filter { m.has($0) }
        guard given.count == 1 else {
            ctx.error(
                node,
                given.isEmpty
                    ? "\(what): name one source: dns (host:port), srv (a SRV name) or file (a path)"
                    : "\(what): \(given.joined(separator: " and ")) are given; use one source per cluster")
            return nil
        }
        var source: DiscoveryConfig.Source
        let (text, n) = m.scalar(given[0])!
        switch given[0] {
        case "dns":
            guard let (host, port) = try? SocketAddress.split(text), !host.isEmpty, (1...65535).contains(port) else {
                ctx.error(n, "\(what).dns: \"\(text)\" must be host:port (the port the backends listen on)")
                return nil
            }
            if SocketAddress.numeric(text) != nil {
                ctx.error(n, "\(what).dns: \"\(text)\" is an IP address, not a name to look up; list it under backends")
                return nil
            }
            source = .dns(host: host, port: port)
        case "srv":
            guard !text.isEmpty, !text.contains(" "), !text.contains(":") else {
                ctx.error(n, "\(what).srv: \"\(text)\" must be a SRV name like _http._tcp.app.internal (the port comes from the records)")
                return nil
            }
            source = .srv(text)
        default:
            source = .file(ctx.path(text))
        }
        var d = DiscoveryConfig(source: source)
        d.refresh = m.duration("refresh", d.refresh, allowZero: false)
        if d.refresh < 1_000_000_000, let (_, rn) = m.scalar("refresh") {
            ctx.error(rn, "\(what).refresh must be at least 1s")
        }
        if let list = m.sequence("resolvers") {
            if case .file = source, let rn = m.node("resolvers") { ctx.error(rn, "\(what).resolvers: a file source asks no DNS server") }
            var resolvers: [SocketAddress] = []
            for item in list {
                let s = item.scalar?.string ?? ""
                // A resolver named by a host name would need a resolver first: numbers only.
                guard let a = SocketAddress.numeric(s) ?? SocketAddress.numeric(wrapPort(s)) else {
                    ctx.error(
                        item, "\(what).resolvers: \"\(s)\" must be an IP address with an optional port, like 127.0.0.1:53 or [::1]:53")
                    continue
                }
                resolvers.append(a)
            }
            if resolvers.isEmpty && list.isEmpty, let rn = m.node("resolvers") {
                ctx.error(rn, "\(what).resolvers is empty (leave it out to use /etc/resolv.conf)")
            }
            d.resolvers = resolvers
        } else if let rn = m.node("resolvers") {
            ctx.error(rn, "\(what).resolvers must be a list of host:port")
        }
        if let (s, mn) = m.scalar("max_removed") {
            if s.hasSuffix("%") {
                if let share = Units.percentage(s), share > 0 {
                    d.maxRemoved = .share(share)
                } else {
                    ctx.error(mn, "\(what).max_removed: \"\(s)\" must be a share from 1% to 100% (like 50%) or a count (like 2)")
                }
            } else if let count = Int(s), count >= 1 {
                d.maxRemoved = .count(count)
            } else {
                ctx.error(mn, "\(what).max_removed: \"\(s)\" must be a share above 0% (like 50%) or a count (like 2)")
            }
        }
        return d
    }

    /// `10.0.0.53` → `10.0.0.53:53`, `[::1]` and `::1` → `[::1]:53`.
    private static func wrapPort(_ s: String) -> String {
        if s.hasPrefix("[") { return s + ":53" }
        if s.contains(":") { return "[\(s)]:53" }
        return s + ":53"
    }
}
