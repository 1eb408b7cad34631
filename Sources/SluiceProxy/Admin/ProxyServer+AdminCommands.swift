import Foundation
import SluiceCache
import SluiceConfig
import SluiceDiscovery

/// One admin answer: status, content type and body (always sent with `Connection: close`).
struct AdminAnswer: Equatable {
    var status: Int
    var contentType: String
    var body: Data

    static let plainText = "text/plain; charset=utf-8"

    static func text(_ status: Int, _ message: String) -> AdminAnswer {
        AdminAnswer(status: status, contentType: plainText, body: Data(message.utf8))
    }
}

extension ProxyServer {
    /// Runs one admin command (routed by `AdminRouter`). Control thread; `/status` and
    /// `/metrics` wait up to a second for the workers' counters.
    func run(_ command: AdminCommand, body: String) -> AdminAnswer {
        switch command {
        case .healthz:
            return .text(200, "ok\n")
        case .readyz:
            switch readiness() {
            case .ready: return .text(200, "ready\n")
            case .starting(let why): return .text(503, "not ready: starting (\(why))\n")
            case .stopping: return .text(503, "not ready: stopping\n")
            }
        case .status:
            return AdminAnswer(status: 200, contentType: "application/json", body: StatusDocument(sample()).json())
        case .metrics:
            return AdminAnswer(
                status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8", body: Data(PrometheusText.render(sample()).utf8))
        case .dashboard:
            return AdminAnswer(status: 200, contentType: "text/html; charset=utf-8", body: Data(Dashboard.html.utf8))
        case .history(let window):
            let now = history.clusters.lazy.compactMap { $0.points.last?.t }.max() ?? Date().timeIntervalSince1970
            let doc = HistoryDocument(history: history, snapshotGeneration: snapshot.generation, now: now)
            return AdminAnswer(status: 200, contentType: "application/json", body: doc.json(window))
        case .reload:
            let errors = reloadFromFile()
            if errors.isEmpty { return .text(200, "reloaded: generation \(generation)\n") }
            return .text(400, errors.joined(separator: "\n") + "\n")
        case .backend(let cluster, let backend, let action):
            return backendCommand(cluster: cluster, backend: backend, action: action, body: body)
        case .purgeCache:
            return purgeCache(body: body)
        case .addBackend(let cluster):
            return addBackend(cluster: cluster, body: body)
        case .removeBackend(let cluster, let backend):
            return removeBackend(cluster: cluster, backend: backend)
        }
    }

    /// `POST /cache/purge`: drops the stored responses of `host` (required; "*": every host)
    /// whose path starts with `path_prefix` (default "/"); fills running for them are not
    /// stored. Answers `{"purged": N}`. Control thread.
    func purgeCache(body: String) -> AdminAnswer {
        guard let store = snapshot.cache else { return .text(404, "no route has a cache\n") }
        let object = body.isEmpty ? [:] : (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any]
        guard let object, object.values.allSatisfy({ $0 is String }) else {
            return .text(400, "the body must be a JSON object like {\"host\": \"shop.example\", \"path_prefix\": \"/products/\"}\n")
        }
        // The host is required ("*" for every host): a forgotten body must not empty the cache.
        guard var host = (object["host"] as? String)?.lowercased(), !host.isEmpty else {
            return .text(
                400,
                "name the \"host\" to purge (\"*\" for every host), e.g. {\"host\": \"shop.example\", \"path_prefix\": \"/products/\"}\n")
        }
        if let colon = host.lastIndex(of: ":"), host[host.index(after: colon)...].allSatisfy(\.isNumber) {
            host = String(host[..<colon])
        }
        let prefix = object["path_prefix"] as? String ?? "/"
        guard prefix.hasPrefix("/") else { return .text(400, "path_prefix must start with /\n") }
        let n = store.purge(where: CacheKey.matcher(host: host == "*" ? nil : host, pathPrefix: prefix))
        logger.notice("cache purged", metadata: ["host": "\(host)", "path_prefix": "\(prefix)", "entries": "\(n)"])
        return AdminAnswer(status: 200, contentType: "application/json", body: Data("{\"purged\": \(n)}\n".utf8))
    }

    /// The runtime API on one backend: drain, disable, enable (the shared health table) or a
    /// new weight (a runtime snapshot of the same generation; the next reload applies the
    /// file's weight). Control thread.
    func backendCommand(cluster: String, backend: String, action: AdminCommand.BackendAction, body: String) -> AdminAnswer {
        guard let c = snapshot.clusters.first(where: { $0.name == cluster }) else { return .text(404, "no cluster \"\(cluster)\"\n") }
        guard let b = c.backends.first(where: { $0.name == backend }) else {
            return .text(404, "no backend \"\(backend)\" in cluster \"\(cluster)\"\n")
        }
        switch action {
        case .drain:
            registry.set(b.health, adminState: .draining)
        case .disable:
            registry.set(b.health, adminState: .disabled)
        case .enable:
            registry.set(b.health, adminState: .active)
        case .weight:
            guard let w = Int(body.trimmingCharacters(in: .whitespacesAndNewlines)), (0...10_000).contains(w) else {
                return .text(400, "the body must be a weight from 0 to 10000\n")
            }
            // A configured backend's weight lives in `fileConfig` until the next reload; a runtime
            // one's in its membership (a source's next answer sets its own weight again).
            if let member = runtime.memberships[cluster]?.member(named: backend), member.source != .api {
                return .text(
                    409,
                    "\(cluster)/\(backend) comes from \(member.source), which sets its weight at every refresh: change it there\n")
            }
            if var m = runtime.memberships[cluster], m.setWeight(w, named: backend) {
                runtime.memberships[cluster] = m
            } else if let ci = fileConfig.clusters.firstIndex(where: { $0.name == cluster }) {
                if let bi = fileConfig.clusters[ci].backends.firstIndex(where: { $0.name == backend }) {
                    fileConfig.clusters[ci].backends[bi].weight = w
                } else if let bi = fileConfig.clusters[ci].standby.firstIndex(where: { $0.name == backend }) {
                    fileConfig.clusters[ci].standby[bi].weight = w
                }
                runtimeWeights[RuntimeBackends.key(cluster, backend)] = w
            }
            publish(runtime.effective(fileConfig), generation: snapshot.generation)
            logger.notice("weight changed", metadata: ["cluster": "\(cluster)", "backend": "\(backend)", "weight": "\(w)"])
            return .text(200, "\(cluster)/\(backend) weight \(w)\n")
        }
        logger.notice("backend \(action.rawValue)", metadata: ["cluster": "\(cluster)", "backend": "\(backend)"])
        return .text(200, "\(cluster)/\(backend) \(Self.state(b).rawValue)\n")
    }
}
