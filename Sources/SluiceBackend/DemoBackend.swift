import Foundation
import SluiceEventLoop
import SluiceSystem
import Synchronization

/// How a built-in backend answers requests that do not name a special path.
package struct BackendBehavior: Sendable {
    /// Status of ordinary answers (and of `/health` when not 200: a sick server).
    package var status: Int
    /// Body bytes of ordinary answers.
    package var bodySize: Int
    /// Service time before answering, in nanoseconds.
    package var delay: UInt64
    /// Requests served at once; past it 503 (0 = unlimited).
    package var maxConcurrency: Int
    /// `/health` answers 200 when true, 503 when false.
    package var healthy: Bool
    /// When set, ordinary 200s carry `Cache-Control: max-age=N`, an `ETag` and a
    /// `Last-Modified`, and a conditional request that matches them gets a 304 (after the
    /// same service time and within the same concurrency limit).
    package var maxAge: Int?

    package init(
        status: Int = 200, bodySize: Int = 13, delay: UInt64 = 0, maxConcurrency: Int = 0, healthy: Bool = true, maxAge: Int? = nil
    ) {
        self.status = status
        self.bodySize = bodySize
        self.delay = delay
        self.maxConcurrency = maxConcurrency
        self.healthy = healthy
        self.maxAge = maxAge
    }
}

/// A tiny, fast HTTP/1.1 server for the demo, the tests and the benchmark.
///
/// One thread with its own event loop. Every answer carries `X-Backend: NAME`.
/// Paths: `/health`; `/echo` (the request body back, streamed); `/headers` (the request
/// head as received); `/bytes/N` and `/chunked/N` (N bytes); `/status/N`; `/delay/MS`;
/// `/ws` (WebSocket echo); `/sick` and `/well` (make `/health` fail or pass); `/__count`
/// (the counters below, as text); anything else answers per `BackendBehavior`.
/// `stop()` closes the port and every connection; `start()` opens the same port again.
package final class DemoBackend: @unchecked Sendable {
    package let name: String
    let behaviorLock: Mutex<BackendBehavior>
    let accepted = Atomic<Int>(0)
    let served = Atomic<Int>(0)
    let active = Atomic<Int>(0)
    let ordinary = Atomic<Int>(0)
    let notModified = Atomic<Int>(0)
    private var loop: EventLoop?
    private var thread: Thread?
    private var finished: DispatchSemaphore?
    private(set) package var port: Int = 0
    private let host: String
    var server: BackendServer?

    package init(name: String, host: String = "127.0.0.1", behavior: BackendBehavior = BackendBehavior()) {
        self.name = name
        self.host = host
        behaviorLock = Mutex(behavior)
    }

    deinit { stop() }

    package var behavior: BackendBehavior {
        get { behaviorLock.withLock { $0 } }
        set { behaviorLock.withLock { $0 = newValue } }
    }

    /// TCP connections accepted since creation.
    package var connectionsAccepted: Int { accepted.load(ordering: .relaxed) }
    /// Responses completed since creation.
    package var requestsServed: Int { served.load(ordering: .relaxed) }

    /// Ordinary requests received since creation (the ones `BackendBehavior` answers,
    /// including those refused at capacity and the conditional ones).
    package var ordinaryRequests: Int { ordinary.load(ordering: .relaxed) }
    /// 304 Not Modified answers sent since creation (revalidations that matched).
    package var notModifiedAnswers: Int { notModified.load(ordering: .relaxed) }

    /// Ordinary requests being served right now (in their service time).
    package var activeRequests: Int { active.load(ordering: .relaxed) }

    package var isRunning: Bool { loop != nil }

    /// Listens on `port` (0: any free port; after a stop, the previous port) and starts serving.
    @discardableResult
    package func start(port requested: Int? = nil) throws -> Int {
        guard loop == nil else { return port }
        let want = requested ?? port
        let loop = try EventLoop()
        let addr = try SocketAddress.resolve("\(host):\(want)")
        let fd = try Socket.listen(addr, reusePort: false)
        port = try Socket.localAddress(fd).port
        let server = BackendServer(owner: self, loop: loop, fd: fd)
        try loop.register(fd, server, events: EpollEvents.readable)
        self.server = server
        self.loop = loop
        let done = DispatchSemaphore(value: 0)
        finished = done
        let t = Thread {
            loop.run()
            done.signal()
        }
        t.name = "backend-\(name)"
        t.start()
        thread = t
        return port
    }

    /// Closes the listening socket and every connection, like a crashed server.
    package func stop() {
        guard let loop, let finished else { return }
        loop.stop()
        finished.wait()
        server?.shutdown()  // the loop thread has ended: safe to touch its objects here
        self.loop = nil
        self.finished = nil
        self.server = nil
        thread = nil
    }
}

/// The listening socket and connections of one `DemoBackend`. Its loop thread only.
final class BackendServer: EventHandler, @unchecked Sendable {
    unowned let owner: DemoBackend
    let loop: EventLoop
    let fd: Int32
    var connections: [Int32: BackendConnection] = [:]
    var peer = SocketAddress(storage: .init(), length: 0)

    init(owner: DemoBackend, loop: EventLoop, fd: Int32) {
        self.owner = owner
        self.loop = loop
        self.fd = fd
    }

    func handleEvent(_ events: UInt32) {
        while true {
            guard case .done(let cfd)? = try? Socket.accept(fd, peer: &peer) else { return }
            owner.accepted.wrappingAdd(1, ordering: .relaxed)
            Socket.setNoDelay(cfd)
            let c = BackendConnection(server: self, fd: cfd)
            connections[cfd] = c
            do { try loop.register(cfd, c) } catch { c.close(); continue }
            c.readable = true
            c.drive()
        }
    }

    func shutdown() {
        loop.deregister(fd)
        Socket.close(fd)
        for c in Array(connections.values) { c.close() }
    }
}
