import SluiceBalancing
import SluiceBuffers
import SluiceConfig
import SluiceEventLoop
import SluiceHTTP
import SluiceSystem
import SluiceTLS

/// Active checks of one backend, on one worker's loop: non-blocking connect, for `http` a
/// GET and a strict parse of the answer, all within `timeout`; every `interval` ± `jitter`.
///
/// Loop thread only. Results go through the backend's `HealthCounter` (rise/fall); a change
/// flips the shared flag, bumps the registry generation and is logged once.
final class HealthChecker: EventHandler, TimerTarget {
    enum State { case idle, connecting, handshaking, reading, stopped }

    unowned(unsafe) let worker: Worker
    let backend: BackendRuntime
    let cluster: String
    let config: HealthCheckConfig
    let request: [UInt8]
    var state: State = .idle
    var fd: Int32 = -1
    var deadline: UInt64 = 0
    var timerSlot = TimerSlot()
    let buffer = ByteBuffer(capacity: 4096)
    var response = ResponseHead()
    /// `upstream_tls` clusters are checked over TLS too.
    let tlsContext: TLSClientContext?
    var tls: TLSConnection?

    init(worker: Worker, backend: BackendRuntime, cluster: String, config: HealthCheckConfig, tls: TLSClientContext?) {
        tlsContext = tls
        self.worker = worker
        self.backend = backend
        self.cluster = cluster
        self.config = config
        let host = config.host ?? String(decoding: backend.hostHeader, as: UTF8.self)
        request = Array("GET \(config.path) HTTP/1.1\r\nHost: \(host)\r\nUser-Agent: sluice-health-check\r\nConnection: close\r\n\r\n".utf8)
        if backend.health.counter.rise != config.rise || backend.health.counter.fall != config.fall {
            backend.health.counter = HealthCounter(healthy: backend.health.isHealthy, rise: config.rise, fall: config.fall)
        }
    }

    /// First check at once (DESIGN §3: at start every backend is healthy and checks start at once).
    func start() {
        worker.loop.arm(self, at: worker.loop.now)
    }

    func stop() {
        closeSocket()
        state = .stopped
        worker.loop.cancelTimer(self)
    }

    func timerFired(now: UInt64) {
        switch state {
        case .stopped:
            return
        case .idle:
            if now >= deadline { begin(now) } else { worker.loop.arm(self, at: deadline) }
        case .connecting, .handshaking, .reading:
            if now >= deadline { finish(pass: false) } else { worker.loop.arm(self, at: deadline) }
        }
    }

    func begin(_ now: UInt64) {
        deadline = now &+ config.timeout
        guard let (f, inProgress) = try? Socket.connect(to: backend.address) else {
            finish(pass: false)
            return
        }
        fd = f
        do {
            try worker.loop.register(fd, self, events: EpollEvents.readable | EpollEvents.hangup | EpollEvents.writable)
        } catch {
            Socket.close(fd)
            fd = -1
            finish(pass: false)
            return
        }
        state = .connecting
        worker.loop.arm(self, at: deadline)
        if !inProgress { connected() }
    }

    func handleEvent(_ events: UInt32) {
        switch state {
        case .connecting:
            if Socket.pendingError(fd) != 0 {
                finish(pass: false)
            } else if events & (EpollEvents.writable | EpollEvents.readable) != 0 {
                connected()
            }
        case .handshaking:
            handshakeStep()
        case .reading:
            readAnswer()
        case .idle, .stopped:
            break
        }
    }

    func handshakeStep() {
        guard let t = tls else { return }
        switch StreamIO.handshake(t) {
        case .done:
            worker.loop.watchWritable(fd, false)
            sendRequest()
        case .wantRead, .wantWrite:
            break  // registered for both while checking
        case .failed:
            finish(pass: false)
        }
    }

    func connected() {
        if let ctx = tlsContext {
            guard let t = try? TLSConnection(client: ctx, fd: fd, serverName: backend.serverName) else {
                finish(pass: false)
                return
            }
            tls = t
            state = .handshaking
            handshakeStep()
            return
        }
        guard config.type == .http else {
            finish(pass: true)
            return
        }
        worker.loop.watchWritable(fd, false)
        sendRequest()
    }

    func sendRequest() {
        guard config.type == .http else {
            finish(pass: true)
            return
        }
        let sent = request.withUnsafeBytes { raw -> Bool in
            if case .wrote(let n) = StreamIO.write(fd, tls, raw.baseAddress!, raw.count) { return n == raw.count }
            return false
        }
        guard sent else {
            finish(pass: false)
            return
        }
        state = .reading
        buffer.clear()
        readAnswer()
    }

    func readAnswer() {
        while state == .reading {
            if buffer.writableCount == 0 {
                evaluate(eof: true)  // enough of the body seen for expect_body
                return
            }
            switch StreamIO.read(fd, tls, buffer.writePointer, buffer.writableCount) {
            case .data(let n, _):
                buffer.writeIndex += n
                if evaluate(eof: false) { return }
            case .wouldBlock, .wantWrite:
                return  // registered for both while checking
            case .end, .error:
                evaluate(eof: true)
                return
            }
        }
    }

    /// Decides when the answer allows it; returns true when the check finished.
    @discardableResult
    func evaluate(eof: Bool) -> Bool {
        switch response.parse(buffer.readable, maxHead: buffer.capacity) {
        case .incomplete:
            if eof { finish(pass: false) }
            return eof
        case .invalid:
            finish(pass: false)
            return true
        case .complete(let length):
            let ok = config.expectStatus.contains { $0.contains(response.status) }
            guard ok else {
                finish(pass: false)
                return true
            }
            guard let needle = config.expectBody, !needle.isEmpty else {
                finish(pass: true)
                return true
            }
            let body = String(
                decoding: UnsafeRawBufferPointer(start: buffer.base + length, count: buffer.writeIndex - length), as: UTF8.self)
            if body.contains(needle) {
                finish(pass: true)
                return true
            }
            let bodyComplete = response.contentLength.map { buffer.writeIndex - length >= $0 } ?? false
            if eof || bodyComplete {
                finish(pass: false)
                return true
            }
            return false
        }
    }

    func closeSocket() {
        tls = nil
        if fd >= 0 {
            worker.loop.deregister(fd)
            Socket.close(fd)
            fd = -1
        }
    }

    func finish(pass: Bool) {
        closeSocket()
        guard state != .stopped else { return }
        let h = backend.health
        if pass {
            h.passes.wrappingAdd(1, ordering: .relaxed)
        } else {
            h.failures.wrappingAdd(1, ordering: .relaxed)
        }
        if let nowHealthy = h.counter.record(pass: pass) {
            h.set(healthy: nowHealthy)
            if nowHealthy { h.joinedAt.store(worker.loop.now, ordering: .relaxed) }
            worker.shared.registry.healthChanged()
            worker.shared.logger.notice(
                "backend \(nowHealthy ? "healthy" : "unhealthy")",
                metadata: ["cluster": "\(cluster)", "backend": "\(backend.name)", "address": "\(backend.address)"])
        }
        state = .idle
        // Next check after interval ± jitter, so checks of many backends do not fire together.
        let jitter = Double(config.interval) * config.jitter
        let offset = jitter > 0 ? Double(worker.random.next() % 2_000_001) / 1_000_000 - 1 : 0
        deadline = worker.loop.now &+ UInt64(max(1_000_000, Double(config.interval) + offset * jitter))
        worker.loop.arm(self, at: deadline)
    }
}
