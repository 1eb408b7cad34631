import Foundation
import Logging
import SluiceConfig
import SluiceEventLoop
import SluiceSystem

/// POSTs traffic-state changes to `admin.alert_webhook` (DESIGN §3 "Traffic storms").
///
/// Control loop only, and never blocks it: a non-blocking connect, write and read, one POST
/// at a time, each try bounded by `tryTimeout`. A POST is tried `tries` times, `backoff` apart
/// and doubling; a 2xx answer is success, anything else (refused, timed out, closed, a non-2xx
/// status) a failed try. At most `maxQueued` POSTs wait; past that the oldest is dropped and
/// counted. Each outcome is logged once.
final class AlertWebhook: EventHandler, TimerTarget {
    static let maxQueued = 64
    static let tries = 3
    /// Each try's bound (2 s) and the wait before the second try (1 s; doubles).
    let tryTimeout: UInt64
    let backoff: UInt64

    enum State { case idle, connecting, writing, reading, waiting }

    let loop: EventLoop
    let logger: Logger
    private(set) var target: WebhookTarget
    private var queue: [(body: [UInt8], tries: Int)] = []
    private(set) var state = State.idle
    private var fd: Int32 = -1
    private var out: [UInt8] = []
    private var written = 0
    private var answer: [UInt8] = []
    private var deadline: UInt64 = 0
    var timerSlot = TimerSlot()
    /// Counts for tests and `/status`: delivered, failed after every try, dropped from a full queue.
    private(set) var delivered = 0
    private(set) var failed = 0
    private(set) var dropped = 0

    init(
        loop: EventLoop, target: WebhookTarget, logger: Logger, tryTimeout: UInt64 = 2_000_000_000,
        backoff: UInt64 = 1_000_000_000
    ) {
        self.tryTimeout = tryTimeout
        self.backoff = backoff
        self.loop = loop
        self.target = target
        self.logger = logger
    }

    /// A reload may point the webhook elsewhere; POSTs still queued go to the new target.
    func retarget(_ t: WebhookTarget) { target = t }

    /// Queues one JSON document for delivery.
    func post(_ json: String) {
        if queue.count >= Self.maxQueued {
            queue.removeFirst()
            dropped += 1
            logger.warning("alert webhook: queue full, oldest alert dropped", metadata: ["url": "\(target.url)"])
        }
        queue.append((Array(json.utf8), 0))
        if state == .idle { startNext() }
    }

    var pending: Int { queue.count }

    private func startNext() {
        guard let first = queue.first else {
            state = .idle
            return
        }
        let head =
            "POST \(target.path) HTTP/1.1\r\nHost: \(target.host)\r\nUser-Agent: sluice\r\n"
            + "Content-Type: application/json\r\nContent-Length: \(first.body.count)\r\nConnection: close\r\n\r\n"
        out = Array(head.utf8) + first.body
        written = 0
        answer.removeAll(keepingCapacity: true)
        do {
            let (s, inProgress) = try Socket.connect(to: target.address)
            fd = s
            try loop.register(fd, self, events: EpollEvents.readable | EpollEvents.hangup)
            state = inProgress ? .connecting : .writing
            loop.watchWritable(fd, true)
            deadline = Clock.monotonicNanos() &+ tryTimeout
            loop.arm(self, at: deadline)
        } catch {
            finishTry(ok: false, reason: "\(error)")
        }
    }

    func handleEvent(_ events: UInt32) {
        switch state {
        case .connecting:
            let err = Socket.pendingError(fd)
            guard err == 0 else { return finishTry(ok: false, reason: "connect: \(String(cString: strerror(err)))") }
            state = .writing
            write()
        case .writing:
            write()
        case .reading:
            read()
        case .idle, .waiting:
            break
        }
    }

    private func write() {
        while written < out.count {
            let r = out.withUnsafeBytes { p -> Result<IOResult<Int>, any Error> in
                do { return .success(try Socket.write(fd, p.baseAddress! + written, out.count - written)) } catch {
                    return .failure(error)
                }
            }
            switch r {
            case .success(.done(let n)): written += n
            case .success(.wouldBlock): return
            case .failure(let e): return finishTry(ok: false, reason: "write: \(e)")
            }
        }
        loop.watchWritable(fd, false)
        state = .reading
        read()
    }

    /// Reads until the status line is complete (the rest of the answer does not matter).
    private func read() {
        var chunk = [UInt8](repeating: 0, count: 1024)
        while true {
            let r = chunk.withUnsafeMutableBytes { p -> Result<IOResult<Int>, any Error> in
                do { return .success(try Socket.read(fd, p.baseAddress!, p.count)) } catch { return .failure(error) }
            }
            switch r {
            case .success(.done(0)):
                return statusLine(final: true)
            case .success(.done(let n)):
                answer.append(contentsOf: chunk[..<n])
                if answer.contains(UInt8(ascii: "\n")) || answer.count > 4096 { return statusLine(final: true) }
            case .success(.wouldBlock):
                return
            case .failure(let e):
                return finishTry(ok: false, reason: "read: \(e)")
            }
        }
    }

    private func statusLine(final: Bool) {
        let line = String(decoding: answer.prefix { $0 != UInt8(ascii: "\r") && $0 != UInt8(ascii: "\n") }, as: UTF8.self)
        let parts = line.split(separator: " ")
        if parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let code = Int(parts[1]), (200..<300).contains(code) {
            finishTry(ok: true, reason: "")
        } else {
            finishTry(ok: false, reason: line.isEmpty ? "closed without an answer" : "answered \"\(line)\"")
        }
    }

    func timerFired(now: UInt64) {
        switch state {
        case .waiting:
            state = .idle
            startNext()
        case .connecting, .writing, .reading:
            if now >= deadline { finishTry(ok: false, reason: "no answer in \(tryTimeout / 1_000_000) ms") }
        case .idle:
            break
        }
    }

    private func closeSocket() {
        if fd >= 0 {
            loop.deregister(fd)
            Socket.close(fd)
            fd = -1
        }
        loop.cancelTimer(self)
    }

    private func finishTry(ok: Bool, reason: String) {
        closeSocket()
        guard !queue.isEmpty else {
            state = .idle
            return
        }
        if ok {
            queue.removeFirst()
            delivered += 1
            startNext()
            return
        }
        queue[0].tries += 1
        let n = queue[0].tries
        if n >= Self.tries {
            queue.removeFirst()
            failed += 1
            logger.error(
                "alert webhook: gave up after \(n) tries", metadata: ["url": "\(target.url)", "reason": "\(reason)"])
            startNext()
            return
        }
        logger.warning("alert webhook: try \(n) failed, trying again", metadata: ["url": "\(target.url)", "reason": "\(reason)"])
        state = .waiting
        deadline = Clock.monotonicNanos() &+ backoff << UInt64(n - 1)
        loop.arm(self, at: deadline)
    }

    /// Stops at shutdown: what is queued is not sent.
    func close() {
        closeSocket()
        queue.removeAll()
        state = .idle
    }
}
