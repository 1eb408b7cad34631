import SluiceBuffers
import SluiceEventLoop
import SluiceHTTP
import SluiceSystem

/// One client connection of a built-in backend. Loop thread only.
final class BackendConnection: EventHandler, TimerTarget {
    enum State { case head, body, delayed, generating, websocket, closing, closed }
    enum Body: Equatable { case none, length(Int), chunked }

    unowned let server: BackendServer
    let fd: Int32
    let inBuf = ByteBuffer(capacity: 16 * 1024)
    let outBuf = ByteBuffer(capacity: 16 * 1024)
    var readable = false
    var writable = true
    var watchingWrite = false
    var eof = false
    var state: State = .head
    var head = RequestHead()
    var body: Body = .none
    var chunked = ChunkedDecoder()
    var echo = false
    var echoChunked = false
    var keepAlive = true
    var isHead = false
    var path = ""
    var headText: [UInt8] = []
    var generateRemaining = 0
    var generateChunked = false
    var counted = false
    var timerSlot = TimerSlot()

    init(server: BackendServer, fd: Int32) {
        self.server = server
        self.fd = fd
    }

    var owner: DemoBackend { server.owner }

    func handleEvent(_ events: UInt32) {
        if events & (EpollEvents.readable | EpollEvents.hangup | EpollEvents.error) != 0 { readable = true }
        if events & EpollEvents.writable != 0 {
            writable = true
            if watchingWrite {
                watchingWrite = false
                server.loop.watchWritable(fd, false)
            }
        }
        drive()
    }

    func timerFired(now: UInt64) {
        guard state == .delayed else { return }
        answerBehavior(afterDelay: true)
        drive()
    }

    func close() {
        guard state != .closed else { return }
        if counted { owner.active.wrappingSubtract(1, ordering: .relaxed) }
        counted = false
        state = .closed
        server.loop.cancelTimer(self)
        server.loop.deregister(fd)
        Socket.close(fd)
        server.connections[fd] = nil
    }

    func read() -> Bool {
        guard readable, !eof else { return false }
        if inBuf.writableCount < 4096 { inBuf.compact() }
        if inBuf.writableCount == 0 { inBuf.reserve(16 * 1024) }
        let want = inBuf.writableCount
        switch try? Socket.read(fd, inBuf.writePointer, want) {
        case .done(0)?, nil:
            eof = true
        case .done(let n)?:
            inBuf.writeIndex += n
            if n < want { readable = false }
        case .wouldBlock?:
            readable = false
            return false
        }
        return true
    }

    func flush() -> Bool {
        guard writable, !outBuf.isEmpty else { return false }
        switch try? Socket.write(fd, outBuf.readPointer, outBuf.readableCount) {
        case .done(let n)?:
            if n < outBuf.readableCount { blockedOnWrite() }
            outBuf.consume(n)
            return n > 0
        case .wouldBlock?:
            blockedOnWrite()
            return false
        case nil:
            close()
            return true
        }
    }

    func blockedOnWrite() {
        writable = false
        if !watchingWrite {
            watchingWrite = true
            server.loop.watchWritable(fd, true)
        }
    }

    func drive() {
        var progress = true
        while progress && state != .closed {
            progress = flush()
            switch state {
            case .head: if handleHead() { progress = true }
            case .body: if handleBody() { progress = true }
            case .generating: if generate() { progress = true }
            case .websocket: if websocket() { progress = true }
            case .closing:
                if outBuf.isEmpty {
                    Socket.shutdownWrite(fd)
                    close()
                }
            case .delayed, .closed: break
            }
        }
    }

    func handleHead() -> Bool {
        if inBuf.isEmpty {
            if eof {
                close()
                return true
            }
            return read()
        }
        switch head.parse(inBuf.readable, limits: RequestLimits(maxHead: 64 * 1024)) {
        case .incomplete:
            if eof {
                close()
                return true
            }
            return read()
        case .invalid(let e):
            respond(status: e.status, body: "bad request\n", close: true)
            state = .closing
            return true
        case .complete(let length):
            let p = inBuf.readPointer
            path = String(decoding: UnsafeRawBufferPointer(start: p + head.pathStart, count: head.pathEnd - head.pathStart), as: UTF8.self)
            if let q = path.firstIndex(of: "?") { path = String(path[..<q]) }
            headText = Array(UnsafeRawBufferPointer(start: p, count: length))
            inBuf.consume(length)
            keepAlive = head.keepAlive
            isHead = head.method == .head
            switch head.framing {
            case .contentLength(let n): body = .length(n)
            case .chunked:
                chunked.reset()
                body = .chunked
            default: body = .none
            }
            if path == "/ws" && head.upgradeIndex >= 0 {
                upgradeToWebSocket()
                return true
            }
            echo = path == "/echo"
            if echo {
                echoChunked = body == .chunked
                var h = "HTTP/1.1 200 OK\r\nX-Backend: \(owner.name)\r\n"
                switch body {
                case .length(let n): h += "Content-Length: \(n)\r\n"
                case .chunked: h += "Transfer-Encoding: chunked\r\n"
                case .none: h += "Content-Length: 0\r\n"
                }
                if !keepAlive { h += "Connection: close\r\n" }
                outBuf.append(string: h + "\r\n")
            }
            state = .body
            return true
        }
    }

    func handleBody() -> Bool {
        var progress = false
        while true {
            if case .none = body { break }
            if outBuf.readableCount > 256 * 1024 { return progress }
            if inBuf.isEmpty {
                if eof {
                    close()
                    return true
                }
                if read() {
                    progress = true
                    continue
                }
                return progress
            }
            progress = true
            switch body {
            case .length(let n):
                let take = min(n, inBuf.readableCount)
                if echo { outBuf.append(UnsafeRawPointer(inBuf.readPointer), take) }
                inBuf.consume(take)
                body = take == n ? .none : .length(n - take)
            case .chunked:
                let isEcho = echo
                let out = outBuf
                guard
                    let used = try? chunked.decode(
                        inBuf.readable,
                        data: { piece in
                            if isEcho {
                                out.append(hex: piece.count)
                                out.append("\r\n")
                                out.append(piece)
                                out.append("\r\n")
                            }
                        })
                else {
                    close()
                    return true
                }
                inBuf.consume(used)
                if chunked.isDone {
                    if echo { outBuf.append("0\r\n\r\n") }
                    body = .none
                }
            case .none:
                break
            }
        }
        if echo {
            finishRequest()
        } else {
            route()
        }
        return true
    }

    func finishRequest() {
        owner.served.wrappingAdd(1, ordering: .relaxed)
        if counted {
            owner.active.wrappingSubtract(1, ordering: .relaxed)
            counted = false
        }
        state = keepAlive ? .head : .closing
    }

    func route() {
        if path == "/sick" || path == "/well" {
            // Flip what /health answers: a sick server for failover demos and tests.
            var b = owner.behavior
            b.healthy = path == "/well"
            owner.behavior = b
            respond(status: 200, body: b.healthy ? "healthy now\n" : "sick now: /health answers 503\n")
        } else if path == "/health" {
            let b = owner.behavior
            respond(status: b.healthy ? 200 : 503, body: b.healthy ? "ok\n" : "unhealthy\n")
        } else if path == "/__count" {
            respond(status: 200, body: "requests \(owner.ordinaryRequests)\nnot_modified \(owner.notModifiedAnswers)\n")
        } else if path == "/headers" {
            respond(status: 200, bytes: headText)
        } else if path.hasPrefix("/bytes/"), let n = Int(path.dropFirst(7)) {
            startGenerating(n, chunked: false)
        } else if path.hasPrefix("/chunked/"), let n = Int(path.dropFirst(9)) {
            startGenerating(n, chunked: true)
        } else if path.hasPrefix("/status/"), let s = Int(path.dropFirst(8)), (200...599).contains(s) {
            respond(status: s, body: "status \(s)\n")
        } else if path.hasPrefix("/delay/"), let ms = Int(path.dropFirst(7)) {
            state = .delayed
            server.loop.arm(self, at: server.loop.now &+ UInt64(ms) * 1_000_000)
        } else {
            answerBehavior(afterDelay: false)
        }
    }

    /// The ordinary answer: status and body size from the behavior, after its delay.
    func answerBehavior(afterDelay: Bool) {
        let b = owner.behavior
        if !afterDelay {
            owner.ordinary.wrappingAdd(1, ordering: .relaxed)
            let now = owner.active.wrappingAdd(1, ordering: .relaxed).newValue
            counted = true
            if b.maxConcurrency > 0 && now > b.maxConcurrency {
                respond(status: 503, body: "backend at capacity\n")
                return
            }
            if b.delay > 0 && !path.hasPrefix("/delay/") {
                state = .delayed
                server.loop.arm(self, at: server.loop.now &+ b.delay)
                return
            }
        }
        if b.status == 200, let age = b.maxAge {
            answerCacheable(maxAge: age, bodySize: b.bodySize)
        } else if b.status == 200 {
            startGenerating(b.bodySize, chunked: false)
        } else {
            respond(status: b.status, body: "status \(b.status)\n")
        }
    }

    func respond(status: Int, body: String, close: Bool = false) {
        respond(status: status, bytes: Array(body.utf8), close: close)
    }

    func respond(status: Int, bytes: [UInt8], close: Bool = false) {
        if close { keepAlive = false }
        var h = "HTTP/1.1 \(status) \(status < 400 ? "OK" : "Error")\r\nX-Backend: \(owner.name)\r\n"
        h += "Content-Type: text/plain\r\nContent-Length: \(bytes.count)\r\n"
        if !keepAlive { h += "Connection: close\r\n" }
        outBuf.append(string: h + "\r\n")
        if !isHead { bytes.withUnsafeBytes { outBuf.append($0) } }
        finishRequest()
    }

    func startGenerating(_ n: Int, chunked: Bool, extraHeaders: String = "") {
        var h = "HTTP/1.1 200 OK\r\nX-Backend: \(owner.name)\r\nContent-Type: text/plain\r\n" + extraHeaders
        h += chunked ? "Transfer-Encoding: chunked\r\n" : "Content-Length: \(n)\r\n"
        if !keepAlive { h += "Connection: close\r\n" }
        outBuf.append(string: h + "\r\n")
        generateRemaining = isHead ? 0 : n
        generateChunked = chunked && !isHead
        state = .generating
        _ = generate()  // head and the first body bytes in one write, as real servers send them
    }

    static let filler = [UInt8](repeating: UInt8(ascii: "x"), count: 16 * 1024)

    func generate() -> Bool {
        var progress = false
        while generateRemaining > 0 && outBuf.readableCount < 64 * 1024 {
            let take = min(generateRemaining, Self.filler.count)
            if generateChunked {
                outBuf.append(hex: take)
                outBuf.append("\r\n")
            }
            Self.filler.withUnsafeBytes { outBuf.append($0.baseAddress!, take) }
            if generateChunked { outBuf.append("\r\n") }
            generateRemaining -= take
            progress = true
        }
        if generateRemaining == 0 {
            if generateChunked { outBuf.append("0\r\n\r\n") }
            finishRequest()
            return true
        }
        return progress
    }
}
