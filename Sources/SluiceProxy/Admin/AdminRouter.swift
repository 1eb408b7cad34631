import Foundation
import SluiceHTTP

/// What an admin request asks for, once its method, path and credentials are checked.
enum AdminCommand: Equatable {
    case healthz
    /// `GET /readyz`: 200 when ready to take traffic, 503 while starting or stopping.
    case readyz
    case status
    case metrics
    case dashboard
    /// `GET /history?seconds=N` or `?since=T`.
    case history(HistoryDocument.Window)
    case reload
    /// `POST /cache/purge` with `{"host", "path_prefix"}`.
    case purgeCache
    /// `/clusters/CLUSTER/backends/BACKEND/ACTION`; names are percent-decoded.
    case backend(cluster: String, backend: String, BackendAction)
    /// `POST /clusters/CLUSTER/backends` with `{"name", "address", "weight", "tier"}`.
    case addBackend(cluster: String)
    /// `DELETE /clusters/CLUSTER/backends/BACKEND`: drain, then remove.
    case removeBackend(cluster: String, backend: String)

    enum BackendAction: String, CaseIterable {
        case drain, disable, enable, weight

        /// `weight` takes a body, so it is a PUT; the others are POSTs.
        var method: Method { self == .weight ? .put : .post }
    }
}

/// The admin listener's routing table (DESIGN §4): method and path to a command, or the refusal.
///
/// Pure; control thread. With a token configured, every call but GET and HEAD needs
/// `Authorization: Bearer <token>`, checked before the path (an unauthenticated client learns
/// nothing about which paths exist).
enum AdminRouter {
    enum Route: Equatable {
        case run(AdminCommand)
        case unauthorized
        case notFound
        /// The path exists with another method (named in the answer).
        case methodNotAllowed(use: Method)
        /// The path exists, the query is wrong (said in the answer).
        case badRequest(String)
    }

    static func route(_ method: Method, _ path: String, query: String = "", authorization: String?, token: String?) -> Route {
        if method != .get && method != .head, let token, !bearer(authorization, matches: token) { return .unauthorized }
        switch (method, path) {
        case (.get, "/healthz"), (.head, "/healthz"): return .run(.healthz)
        case (.get, "/readyz"), (.head, "/readyz"): return .run(.readyz)
        case (.get, "/status"): return .run(.status)
        case (.get, "/metrics"): return .run(.metrics)
        case (.get, "/"): return .run(.dashboard)
        case (.get, "/history"):
            guard let w = HistoryDocument.window(query: query) else {
                return .badRequest("seconds= takes a whole number of seconds from 1 (more than 900 answers 900); since= a Unix time")
            }
            return .run(.history(w))
        case (.post, "/reload"): return .run(.reload)
        case (.post, "/cache/purge"): return .run(.purgeCache)
        case (_, "/cache/purge"): return .methodNotAllowed(use: .post)
        default: break
        }
        let parts = path.split(separator: "/").map(String.init)
        guard parts.count >= 3, parts.count <= 5, parts[0] == "clusters", parts[2] == "backends" else { return .notFound }
        let cluster = parts[1].removingPercentEncoding ?? parts[1]
        if parts.count == 3 {
            guard method == .post else { return .methodNotAllowed(use: .post) }
            return .run(.addBackend(cluster: cluster))
        }
        if parts.count == 4 {
            guard method == .delete else { return .methodNotAllowed(use: .delete) }
            return .run(.removeBackend(cluster: cluster, backend: parts[3].removingPercentEncoding ?? parts[3]))
        }
        guard let action = AdminCommand.BackendAction(rawValue: parts[4]) else { return .notFound }
        guard method == action.method else { return .methodNotAllowed(use: action.method) }
        let backend = parts[3].removingPercentEncoding ?? parts[3]
        return .run(.backend(cluster: cluster, backend: backend, action))
    }

    /// Does an `Authorization` value carry `token` with the Bearer scheme? The scheme is
    /// case-insensitive (RFC 9110 §11.1); the token is compared in constant time.
    static func bearer(_ authorization: String?, matches token: String) -> Bool {
        guard let authorization else { return false }
        let parts = authorization.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return false }
        let given = Array(parts[1].trimmingCharacters(in: .whitespaces).utf8)
        let want = Array(token.utf8)
        var diff = given.count ^ want.count
        for i in want.indices { diff |= Int(want[i] ^ (i < given.count ? given[i] : 0)) }
        return diff == 0
    }
}
