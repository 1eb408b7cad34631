import Foundation
import SluiceEventLoop
import SluiceHTTP
import SluiceSystem

/// The admin listener (DESIGN §4): metrics, status, dashboard, reload and the runtime API.
///
/// Runs on the control loop and never blocks it (see `AdminConnection`). One request per
/// connection (answers close it); bodies up to 64 KiB. With a token configured, every non-GET call needs `Authorization: Bearer <token>`.
final class AdminServer: EventHandler {
    let server: ProxyServer
    let loop: EventLoop
    let fd: Int32
    let address: SocketAddress
    let token: String?
    var connections: [Int32: AdminConnection] = [:]
    private var peer = SocketAddress(storage: .init(), length: 0)

    init(server: ProxyServer, loop: EventLoop, address: SocketAddress, token: String?) throws {
        self.server = server
        self.loop = loop
        self.token = token
        fd = try Socket.listen(address, reusePort: false, backlog: 128)
        self.address = try Socket.localAddress(fd)
        try loop.register(fd, self, events: EventLoop.readable)
    }

    /// Admin connections open at once; past it a new one is closed at once (each holds at most
    /// one request and one answer, so this bounds the admin plane's memory).
    static let maxConnections = 256

    func handleEvent(_ events: UInt32) {
        while case .done(let c)? = try? Socket.accept(fd, peer: &peer) {
            guard connections.count < Self.maxConnections else {
                Socket.close(c)
                continue
            }
            let conn = AdminConnection(admin: self, fd: c)
            connections[c] = conn
            do {
                try loop.register(c, conn)
            } catch {
                conn.close()
                continue
            }
            conn.armTimer()
            conn.readable()
        }
    }

    func close() {
        loop.deregister(fd)
        Socket.close(fd)
        for c in Array(connections.values) { c.close() }
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

    /// Routes one request; returns status, content type and body.
    func handle(_ method: Method, _ path: String, _ authorization: String?, _ body: String) -> (Int, String, Data) {
        let text = "text/plain; charset=utf-8"
        if method != .get && method != .head, let token, !Self.bearer(authorization, matches: token) {
            return (401, text, Data("a bearer token is required for this call\n".utf8))
        }
        let parts = path.split(separator: "/").map(String.init)
        switch (method, path) {
        case (.get, "/healthz"), (.head, "/healthz"):
            return (200, text, Data("ok\n".utf8))
        case (.get, "/status"):
            return (200, "application/json", server.statusJSON())
        case (.get, "/metrics"):
            return (200, "text/plain; version=0.0.4; charset=utf-8", Data(server.metricsText().utf8))
        case (.get, "/"):
            return (200, "text/html; charset=utf-8", Data(Dashboard.html.utf8))
        case (.post, "/reload"):
            let errors = server.reloadFromFile()
            if errors.isEmpty { return (200, text, Data("reloaded: generation \(server.generation)\n".utf8)) }
            return (400, text, Data((errors.joined(separator: "\n") + "\n").utf8))
        default:
            break
        }
        // /clusters/CLUSTER/backends/BACKEND/(drain|disable|enable|weight)
        if parts.count == 5, parts[0] == "clusters", parts[2] == "backends" {
            let cluster = parts[1].removingPercentEncoding ?? parts[1]
            let backend = parts[3].removingPercentEncoding ?? parts[3]
            let action = parts[4]
            let allowed = action == "weight" ? method == .put : method == .post
            guard ["drain", "disable", "enable", "weight"].contains(action) else { return (404, text, Data("not found\n".utf8)) }
            guard allowed else { return (405, text, Data("use \(action == "weight" ? "PUT" : "POST")\n".utf8)) }
            let (status, message) = server.backendCommand(cluster: cluster, backend: backend, action: action, body: body)
            return (status, text, Data(message.utf8))
        }
        return (404, text, Data("not found\n".utf8))
    }
}
