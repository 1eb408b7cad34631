import Foundation
import SluiceConfig
import SluiceDiscovery
import SluiceSystem

/// `POST /clusters/C/backends` and `DELETE /clusters/C/backends/B` (DESIGN §4): the same
/// joining and leaving rules as discovery. Control thread.
extension ProxyServer {
    static let addUsage =
        "the body must be a JSON object like {\"name\": \"app4\", \"address\": \"10.0.0.14:8000\", \"weight\": 1, \"tier\": \"primary\"}"

    func addBackend(cluster: String, body: String) -> AdminAnswer {
        guard let c = fileConfig.clusters.first(where: { $0.name == cluster }) else {
            return .text(404, "no cluster \"\(cluster)\"\n")
        }
        let parsed = Self.parseBackend(body)
        guard case .success(let b) = parsed else {
            if case .failure(let why) = parsed { return .text(400, why.message + "\n") }
            return .text(400, Self.addUsage + "\n")
        }
        var m = membership(of: c)
        switch m.add(b, source: .api, reserved: reserved(c), now: Clock.monotonicNanos()) {
        case .failure(let e):
            return .text(409, e.message + "\n")
        case .success(let changes):
            runtime.memberships[cluster] = m
            applyMembership(changes, cluster: cluster)
            let state = snapshot.clusters.first { $0.name == cluster }?.backends.first { $0.name == b.name }.map { Self.state($0) }
            let json =
                "{\"cluster\": \(HistoryDocument.string(cluster)), \"name\": \(HistoryDocument.string(b.name)), "
                + "\"address\": \"\(b.address)\", \"weight\": \(b.weight), \"tier\": \"\(b.tier.rawValue)\", "
                + "\"state\": \"\(state?.rawValue ?? "unhealthy")\"}\n"
            return AdminAnswer(status: changes.joined.isEmpty ? 200 : 201, contentType: "application/json", body: Data(json.utf8))
        }
    }

    func removeBackend(cluster: String, backend: String) -> AdminAnswer {
        guard let c = fileConfig.clusters.first(where: { $0.name == cluster }) else {
            return .text(404, "no cluster \"\(cluster)\"\n")
        }
        var m = membership(of: c)
        let now = Clock.monotonicNanos()
        if let member = m.member(named: backend), member.source != .api {
            // Its source would bring it back at the next refresh: say so instead of pretending.
            return .text(
                409,
                "\(cluster)/\(backend) comes from \(member.source): remove it there (the next refresh would add it back), "
                    + "or take it out of rotation with POST /clusters/\(cluster)/backends/\(backend)/drain or /disable\n")
        }
        if m.member(named: backend) == nil {
            // A configured backend becomes a runtime one (same name and address: same health),
            // then leaves like one; the next reload reads the file again and brings it back.
            let configured = c.backends.map { ($0, BackendTier.primary) } + c.standby.map { ($0, BackendTier.standby) }
            guard reserved(c).contains(backend), let (b, tier) = configured.first(where: { $0.0.name == backend }) else {
                return .text(404, "no backend \"\(backend)\" in cluster \"\(cluster)\"\n")
            }
            runtime.removedConfigured[cluster, default: []].insert(backend)
            let d = DiscoveredBackend(name: b.name, address: b.address, weight: b.weight, tier: tier)
            guard case .success(let added) = m.add(d, source: .api, reserved: reserved(c), now: now) else {
                runtime.removedConfigured[cluster]?.remove(backend)
                return .text(409, "\(cluster)/\(backend) cannot be removed now\n")
            }
            runtime.memberships[cluster] = m
            applyMembership(added, cluster: cluster)
        }
        switch m.remove(named: backend, now: now) {
        case .failure(let e):
            return .text(404, e.message + "\n")
        case .success(let changes):
            runtime.memberships[cluster] = m
            applyMembership(changes, cluster: cluster)
            logger.notice("backend removal requested", metadata: ["cluster": "\(cluster)", "backend": "\(backend)"])
            return .text(200, "\(cluster)/\(backend) draining, removed when idle\n")
        }
    }

    /// `{"name", "address", "weight", "tier"}`: address an IP literal with its port (names
    /// belong to a `dns` source), weight 0...10000 (default 1), tier primary or standby.
    static func parseBackend(_ body: String) -> Result<DiscoveredBackend, BadBody> {
        guard let data = body.data(using: .utf8), let any = try? JSONSerialization.jsonObject(with: data),
            let o = any as? [String: Any]
        else { return .failure(BadBody(addUsage)) }
        if let unknown = o.keys.sorted().first(where: { !["name", "address", "weight", "tier"].contains($0) }) {
            return .failure(BadBody("unknown key \"\(unknown)\"; " + addUsage))
        }
        guard let text = o["address"] as? String else { return .failure(BadBody("\"address\" is required; " + addUsage)) }
        guard let address = SocketAddress.numeric(text) else {
            return .failure(BadBody("address \"\(text)\" must be an IP address and port, like 10.0.0.14:8000 or [2001:db8::14]:8000"))
        }
        var weight = 1
        if let w = o["weight"] {
            guard let n = w as? Int, !(w is Bool), (0...10_000).contains(n) else {
                return .failure(BadBody("weight must be a whole number from 0 to 10000"))
            }
            weight = n
        }
        var tier = BackendTier.primary
        if let t = o["tier"] {
            guard let s = t as? String, let v = BackendTier(rawValue: s) else {
                return .failure(BadBody("tier must be \"primary\" or \"standby\""))
            }
            tier = v
        }
        var name: String? = nil
        if let n = o["name"] {
            guard let s = n as? String, !s.isEmpty, !s.contains("/"), s.allSatisfy({ !$0.isWhitespace }) else {
                return .failure(BadBody("name must be a non-empty string without spaces or /"))
            }
            name = s
        }
        return .success(DiscoveredBackend(name: name, address: address, weight: weight, tier: tier))
    }

    struct BadBody: Error {
        var message: String
        init(_ m: String) { message = m }
    }
}
