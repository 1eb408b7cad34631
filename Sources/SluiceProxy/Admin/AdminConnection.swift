import Foundation
import SluiceBuffers
import SluiceEventLoop
import SluiceHTTP
import SluiceSystem

/// One admin client connection: read one request, answer it, close. Control loop only.
///
/// Nothing here blocks the control loop: the answer is written as far as the socket takes
/// it, the rest waits for EPOLLOUT. A client that stops reading is closed after
/// `AdminConnection.writeTimeout` without progress, one that sends no complete request after
/// `readTimeout`; after the answer the connection lingers (reads and discards) up to
/// `lingerTimeout` so that unread input does not turn the close into a reset that destroys
/// the answer. Memory per connection is bounded: at most 128 KiB of request, then one answer
/// (further pipelined requests are never read, only discarded).
final class AdminConnection: EventHandler, TimerTarget {
    static let readTimeout: UInt64 = 10_000_000_000
    static let writeTimeout: UInt64 = 10_000_000_000
    static let lingerTimeout: UInt64 = 2_000_000_000
    static let maxRequest = 128 * 1024

    enum Phase { case reading, writing, lingering, closed }

    unowned let admin: AdminServer
    let fd: Int32
    let buffer = ByteBuffer(capacity: 8192)
    var head = RequestHead()
    var phase = Phase.reading
    /// The answer and how much of it the socket has taken.
    var output: [UInt8] = []
    var written = 0
    var watchingWritable = false
    /// The current phase's deadline (monotonic); a write that makes progress moves it.
    var deadline: UInt64
    var timerSlot = TimerSlot()

    init(admin: AdminServer, fd: Int32) {
        self.admin = admin
        self.fd = fd
        deadline = Clock.monotonicNanos() &+ Self.readTimeout
    }

    var closed: Bool { phase == .closed }

    func handleEvent(_ events: UInt32) {
        switch phase {
        case .reading: readable()
        case .writing: flush()
        case .lingering: discardInput()
        case .closed: break
        }
    }

    func timerFired(now: UInt64) {
        guard phase != .closed else { return }
        if now >= deadline {
            if phase == .writing {
                admin.server.logger.notice(
                    "admin client closed: it stopped reading its answer",
                    metadata: ["unsent_bytes": "\(output.count - written)"])
            }
            close()
        } else {
            armTimer()
        }
    }

    /// Arms (or moves) this connection's one timer to `deadline`.
    func armTimer() {
        guard phase != .closed else { return }
        admin.loop.arm(self, at: deadline)
    }

    func readable() {
        while phase == .reading {
            if buffer.writableCount == 0 {
                guard buffer.capacity < Self.maxRequest else { return respond(413, "text/plain", Data("too large\n".utf8)) }
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
            var query = ""
            if let q = path.firstIndex(of: "?") {
                query = String(path[path.index(after: q)...])
                path = String(path[..<q])
            }
            var authorization: String? = nil
            for f in head.fields
            where String(decoding: raw[Int(f.nameStart)..<Int(f.nameEnd)], as: UTF8.self).lowercased() == "authorization" {
                authorization = String(decoding: raw[Int(f.valueStart)..<Int(f.valueEnd)], as: UTF8.self)
            }
            let body = String(decoding: raw[length..<(length + bodyLength)], as: UTF8.self)
            let a = admin.handle(head.method, path, query: query, authorization, body)
            respond(a.status, a.contentType, head.method == .head ? Data() : a.body, contentLength: a.body.count)
            return true
        }
    }

    /// Queues the answer (the only one on this connection) and starts writing it.
    func respond(_ status: Int, _ type: String, _ body: Data, contentLength: Int? = nil) {
        let reason =
            [
                200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed", 411: "Length Required",
                413: "Content Too Large", 431: "Request Header Fields Too Large",
            ][status] ?? "Error"
        output = Array(
            "HTTP/1.1 \(status) \(reason)\r\nContent-Type: \(type)\r\nContent-Length: \(contentLength ?? body.count)\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n"
                .utf8)
        output.append(contentsOf: body)
        written = 0
        phase = .writing
        deadline = admin.loop.now &+ Self.writeTimeout
        flush()
    }

    /// Writes what the socket takes; on a short write waits for EPOLLOUT (and the timer).
    func flush() {
        while written < output.count {
            let result = output.withUnsafeBytes { p in try? Socket.write(fd, p.baseAddress! + written, p.count - written) }
            switch result {
            case .done(let n)?:
                written += n
                // Progress: the timer stays where it is and re-arms at the moved deadline.
                deadline = Clock.monotonicNanos() &+ Self.writeTimeout
            case .wouldBlock?:
                if !watchingWritable {
                    watchingWritable = true
                    admin.loop.watchWritable(fd, true)
                }
                armTimer()
                return
            case nil:
                close()
                return
            }
        }
        output = []
        if watchingWritable {
            watchingWritable = false
            admin.loop.watchWritable(fd, false)
        }
        Socket.shutdownWrite(fd)
        phase = .lingering
        deadline = Clock.monotonicNanos() &+ Self.lingerTimeout
        armTimer()
        discardInput()
    }

    /// After the answer: read and drop until the client closes (or the linger deadline).
    func discardInput() {
        while phase == .lingering {
            buffer.clear()
            switch try? Socket.read(fd, buffer.writePointer, buffer.writableCount) {
            case .done(0)?, nil:
                close()
            case .done?:
                continue
            case .wouldBlock?:
                return
            }
        }
    }

    func close() {
        guard phase != .closed else { return }
        phase = .closed
        output = []
        admin.loop.cancelTimer(self)
        admin.loop.deregister(fd)
        Socket.close(fd)
        admin.connections[fd] = nil
    }
}
