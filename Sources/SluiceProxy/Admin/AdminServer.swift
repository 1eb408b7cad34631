import Foundation
import SluiceEventLoop
import SluiceHTTP
import SluiceSystem

/// The admin listener (DESIGN §4): metrics, status, dashboard, reload and the runtime API.
///
/// Runs on the control loop and never blocks it (see `AdminConnection`). One request per
/// connection (answers close it); bodies up to 64 KiB. Routing and the token check are
/// `AdminRouter`'s, the commands `ProxyServer.run`'s.
final class AdminServer: EventHandler {
    let server: ProxyServer
    let loop: EventLoop
    let fd: Int32
    let address: SocketAddress
    let token: String?
    var connections: [Int32: AdminConnection] = [:]
    private var peer = SocketAddress(storage: .init(), length: 0)

    /// `inherited`: an already listening socket (a binary upgrade hands it over) instead of binding.
    init(server: ProxyServer, loop: EventLoop, address: SocketAddress, token: String?, inherited: Int32? = nil) throws {
        self.server = server
        self.loop = loop
        self.token = token
        fd = try inherited ?? Socket.listen(address, reusePort: false, backlog: 128)
        self.address = try Socket.localAddress(fd)
        try loop.register(fd, self, events: EpollEvents.readable)
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

    /// Answers one request: routes it (`AdminRouter`), then runs its command. Control thread.
    func handle(_ method: Method, _ path: String, query: String = "", _ authorization: String?, _ body: String) -> AdminAnswer {
        switch AdminRouter.route(method, path, query: query, authorization: authorization, token: token) {
        case .run(let command): return server.run(command, body: body)
        case .unauthorized:
            return .text(401, "this call needs the admin token: Authorization: Bearer TOKEN (none was given, or a wrong one)\n")
        case .notFound: return .text(404, "not found\n")
        case .methodNotAllowed(let use): return .text(405, "use \(use == .put ? "PUT" : use == .delete ? "DELETE" : "POST")\n")
        case .badRequest(let why): return .text(400, why + "\n")
        }
    }
}
