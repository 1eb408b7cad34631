import Foundation
import SluiceEventLoop
import SluiceHTTP
import SluiceSystem

/// The admin listener (DESIGN §4): metrics, status, dashboard, reload and the runtime API.
///
/// Runs on the control loop. One request per connection (answers close it); bodies up to
/// 64 KiB. With a token configured, every non-GET call needs `Authorization: Bearer <token>`.
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

    func handleEvent(_ events: UInt32) {
        while case .done(let c)? = try? Socket.accept(fd, peer: &peer) {
            let conn = AdminConnection(admin: self, fd: c)
            connections[c] = conn
            do {
                try loop.register(c, conn)
            } catch {
                conn.close()
                continue
            }
            conn.readable()
        }
    }

    func close() {
        loop.deregister(fd)
        Socket.close(fd)
        for c in Array(connections.values) { c.close() }
    }

    /// Routes one request; returns status, content type and body.
    func handle(_ method: Method, _ path: String, _ authorization: String?, _ body: String) -> (Int, String, Data) {
        let text = "text/plain; charset=utf-8"
        if method != .get && method != .head, let token, authorization != "Bearer \(token)" {
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

/// One admin client connection: read a request, answer, close. Control loop only.
final class AdminConnection: EventHandler {
    unowned let admin: AdminServer
    let fd: Int32
    let buffer = ByteBuffer(capacity: 8192)
    var head = RequestHead()
    var closed = false

    init(admin: AdminServer, fd: Int32) {
        self.admin = admin
        self.fd = fd
    }

    func handleEvent(_ events: UInt32) { readable() }

    func readable() {
        while !closed {
            if buffer.writableCount == 0 {
                guard buffer.capacity < 128 * 1024 else { return respond(413, "text/plain", Data("too large\n".utf8)) }
                buffer.reserve(buffer.capacity)
            }
            switch try? Socket.read(fd, buffer.writePointer, buffer.writableCount) {
            case .done(0)?, nil:
                close()
                return
            case .done(let n)?:
                buffer.writeIndex += n
                if tryHandle() { return }
            case .wouldBlock?:
                return
            }
        }
    }

    /// Handles the request once head and body are in; true when answered.
    func tryHandle() -> Bool {
        switch head.parse(buffer.readable, limits: RequestLimits(maxHead: 32 * 1024)) {
        case .incomplete:
            return false
        case .invalid(let e):
            respond(e.status, "text/plain", Data("bad request\n".utf8))
            return true
        case .complete(let length):
            var bodyLength = 0
            if case .contentLength(let n) = head.framing { bodyLength = n }
            if case .chunked = head.framing {
                respond(411, "text/plain", Data("send Content-Length\n".utf8))
                return true
            }
            guard bodyLength <= 64 * 1024 else {
                respond(413, "text/plain", Data("body too large\n".utf8))
                return true
            }
            guard buffer.readableCount >= length + bodyLength else { return false }
            let raw = buffer.readable
            var path = String(decoding: raw[head.pathStart..<head.pathEnd], as: UTF8.self)
            if let q = path.firstIndex(of: "?") { path = String(path[..<q]) }
            var authorization: String? = nil
            for f in head.fields
            where String(decoding: raw[Int(f.nameStart)..<Int(f.nameEnd)], as: UTF8.self).lowercased() == "authorization" {
                authorization = String(decoding: raw[Int(f.valueStart)..<Int(f.valueEnd)], as: UTF8.self)
            }
            let body = String(decoding: raw[length..<(length + bodyLength)], as: UTF8.self)
            let (status, type, data) = admin.handle(head.method, path, authorization, body)
            respond(status, type, head.method == .head ? Data() : data, contentLength: data.count)
            return true
        }
    }

    func respond(_ status: Int, _ type: String, _ body: Data, contentLength: Int? = nil) {
        let reason =
            [
                200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed", 411: "Length Required",
                413: "Content Too Large",
            ][status] ?? "Error"
        var out = Data(
            "HTTP/1.1 \(status) \(reason)\r\nContent-Type: \(type)\r\nContent-Length: \(contentLength ?? body.count)\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n"
                .utf8)
        out.append(body)
        out.withUnsafeBytes { LogFile.writeAll(fd, $0.baseAddress!, $0.count) }
        Socket.shutdownWrite(fd)
        close()
    }

    func close() {
        guard !closed else { return }
        closed = true
        admin.loop.deregister(fd)
        Socket.close(fd)
        admin.connections[fd] = nil
    }
}
