import SluiceBuffers
import SluiceEventLoop
import SluiceHTTP
import SluiceSystem

/// One keep-alive client connection of the load generator. Loop thread only.
final class LoadConnection: EventHandler, TimerTarget {
    var timerSlot = TimerSlot()
    unowned let generator: LoadGenerator
    var fd: Int32 = -1
    var connected = false
    var busy = false
    var readable = false
    var watchingWrite = false
    let inBuf = ByteBuffer(capacity: 64 * 1024)
    var response = ResponseHead()
    var headDone = false
    var remaining = 0
    var chunked = false
    var decoder = ChunkedDecoder(errorStatus: 502)
    var untilClose = false
    var status = 0
    var intended: UInt64 = 0
    var deadline: UInt64 = .max
    var closeAfter = false
    var retryAfter: Int?
    /// The answer being read came from a cache (`CacheStatus`).
    var hit = false
    /// The stream of the generator this connection belongs to, and the request it sends.
    let stream: Int
    let request: [UInt8]

    init(generator: LoadGenerator, stream: Int, request: [UInt8]) {
        self.generator = generator
        self.stream = stream
        self.request = request
    }

    var loop: EventLoop { generator.loop }

    func connect() {
        guard let (f, inProgress) = try? Socket.connect(to: generator.address) else {
            retryLater()
            return
        }
        fd = f
        Socket.setNoDelay(fd)
        connected = !inProgress
        watchingWrite = inProgress
        do {
            try loop.register(
                fd, self,
                events: inProgress
                    ? EpollEvents.readable | EpollEvents.hangup | EpollEvents.writable : EpollEvents.readable | EpollEvents.hangup)
        } catch {
            Socket.close(fd)
            fd = -1
            retryLater()
            return
        }
        if connected { generator.becameIdle(self) }
    }

    func retryLater() {
        loop.after(20_000_000) { [weak self] in
            guard let self, !self.generator.done else { return }
            self.connect()
        }
    }

    func close() {
        guard fd >= 0 else { return }
        loop.deregister(fd)
        Socket.close(fd)
        fd = -1
        connected = false
        generator.removeIdle(self)
    }

    func reconnect() {
        close()
        if !generator.done { connect() }
    }

    func send(intended t: UInt64) {
        intended = t
        busy = true
        headDone = false
        inBuf.clear()
        // The server gets the whole timeout from when the request leaves; time spent waiting for a
        // free connection still counts in the latency (measured from `intended`).
        deadline = loop.now &+ generator.timeoutNanos
        loop.arm(self, at: deadline)
        let req = request
        let ok = req.withUnsafeBytes { raw -> Bool in
            guard case .done(let n)? = try? Socket.write(fd, raw.baseAddress!, raw.count) else { return false }
            return n == raw.count
        }
        if !ok {
            busy = false
            generator.failed(self, timeout: false)
            reconnect()
        }
    }

    func timerFired(now: UInt64) {
        guard busy, now >= deadline else { return }
        busy = false
        generator.failed(self, timeout: true)
        reconnect()
    }

    func handleEvent(_ events: UInt32) {
        if !connected {
            if Socket.pendingError(fd) == 0 {
                connected = true
                if watchingWrite {
                    watchingWrite = false
                    loop.watchWritable(fd, false)
                }
                generator.becameIdle(self)
            } else {
                generator.removeIdle(self)
                loop.deregister(fd)
                Socket.close(fd)
                fd = -1
                retryLater()
            }
            return
        }
        guard events & (EpollEvents.readable | EpollEvents.hangup | EpollEvents.error) != 0 else { return }
        readAll()
    }

    func readAll() {
        while fd >= 0 {
            if inBuf.writableCount < 4096 { inBuf.compact() }
            let want = inBuf.writableCount
            switch try? Socket.read(fd, inBuf.writePointer, want) {
            case .done(0)?, nil:
                if busy && untilClose && headDone {
                    complete()
                } else if busy {
                    busy = false
                    generator.failed(self, timeout: false)
                }
                reconnect()
                return
            case .done(let n)?:
                inBuf.writeIndex += n
                if !consume() { return }
                if n < want { return }
            case .wouldBlock?:
                return
            }
        }
    }

    /// Parses what arrived; false when the connection was replaced.
    func consume() -> Bool {
        guard busy else {
            // Bytes nobody asked for: the connection is out of step.
            reconnect()
            return false
        }
        if !headDone {
            switch response.parse(inBuf.readable, maxHead: 64 * 1024) {
            case .incomplete:
                return true
            case .invalid:
                busy = false
                generator.failed(self, timeout: false)
                reconnect()
                return false
            case .complete(let length):
                retryAfter = Self.retryAfter(response, inBuf.readable)
                hit = Self.cacheHit(response, inBuf.readable)
                inBuf.consume(length)
                if response.status < 200 { return consume() }
                headDone = true
                status = response.status
                closeAfter = response.close
                untilClose = false
                chunked = false
                remaining = 0
                switch response.framing(requestMethod: .get) {
                case .contentLength(let n): remaining = n
                case .chunked:
                    chunked = true
                    decoder.reset()
                case .untilClose: untilClose = true
                case .none: break
                }
            }
        }
        if chunked {
            guard let used = try? decoder.decode(inBuf.readable, data: { _ in }) else {
                busy = false
                generator.failed(self, timeout: false)
                reconnect()
                return false
            }
            inBuf.consume(used)
            if decoder.isDone { return complete() }
        } else if untilClose {
            inBuf.clear()
        } else {
            let take = min(remaining, inBuf.readableCount)
            inBuf.consume(take)
            remaining -= take
            if remaining == 0 { return complete() }
        }
        return true
    }

    @discardableResult
    func complete() -> Bool {
        busy = false
        generator.answered(self, status: status, retryAfter: retryAfter, hit: hit, intended: intended)
        if closeAfter || untilClose || !inBuf.isEmpty {
            reconnect()
            return false
        }
        generator.becameIdle(self)
        return true
    }

    /// The `Retry-After` seconds of a parsed head (nil: absent or not delay-seconds).
    static func retryAfter(_ head: ResponseHead, _ bytes: UnsafeRawBufferPointer) -> Int? {
        for f in head.fields {
            let name = bytes[Int(f.nameStart)..<Int(f.nameEnd)]
            if RetryAfter.isName(name) { return RetryAfter.seconds(bytes[Int(f.valueStart)..<Int(f.valueEnd)]) }
        }
        return nil
    }

    /// Whether a parsed head marks a cache hit (false without a cache status field).
    static func cacheHit(_ head: ResponseHead, _ bytes: UnsafeRawBufferPointer) -> Bool {
        for f in head.fields {
            let name = bytes[Int(f.nameStart)..<Int(f.nameEnd)]
            if let hit = CacheStatus.isHit(name: name, value: bytes[Int(f.valueStart)..<Int(f.valueEnd)]) { return hit }
        }
        return false
    }
}
