import Foundation
import Glibc
import SluiceEventLoop
import SluiceSystem

@testable import SluiceDiscovery

/// An event loop on its own thread and a `DNSClient` on it, for tests.
final class DNSTestRig: @unchecked Sendable {
    let loop: EventLoop
    var client: DNSClient!

    init(resolvers: [SocketAddress], timeout: UInt64 = 300_000_000) throws {
        loop = try EventLoop()
        client = DNSClient(loop: loop, resolvers: resolvers, timeout: timeout)
        Thread { [loop] in loop.run() }.start()
    }

    /// Runs `body` on the loop thread and returns its value.
    func onLoop<T>(_ body: @escaping () -> T) -> T {
        let box = Box<T>()
        nonisolated(unsafe) let body = body
        loop.execute {
            box.value = body()
            box.done.signal()
        }
        box.done.wait()
        return box.value!
    }

    /// `lookup(host:port:)` on the loop; waits (at most 20 s) for its answer.
    func lookup(_ host: String, port: Int) -> Result<DiscoveryAnswer, DiscoveryError> {
        wait { client, done in client.lookup(host: host, port: port, done) }
    }

    /// `srv(_:)` on the loop; waits (at most 20 s) for its answer.
    func srv(_ name: String) -> Result<DiscoveryAnswer, DiscoveryError> {
        wait { client, done in client.srv(name, done) }
    }

    private func wait(
        _ start: @escaping (DNSClient, @escaping (Result<DiscoveryAnswer, DiscoveryError>) -> Void) -> Void
    ) -> Result<DiscoveryAnswer, DiscoveryError> {
        let box = Box<Result<DiscoveryAnswer, DiscoveryError>>()
        let calls = Box<Int>()
        calls.value = 0
        onLoop { [client] in
            start(client!) { result in
                calls.value! += 1
                box.value = result
                box.done.signal()
            }
        }
        guard box.done.wait(timeout: .now() + 20) == .success else { return .failure(DiscoveryError("test: no answer in 20 s")) }
        // A second call of `done` would show up here.
        onLoop { () }
        if calls.value != 1 { return .failure(DiscoveryError("test: done called \(calls.value!) times")) }
        return box.value!
    }

    /// Queries in flight, armed timers, on the loop.
    var inFlight: (queries: Int, timers: Int) { onLoop { [client, loop] in (client!.activeQueries, loop.armedTimerCount) } }

    /// Datagrams the client dropped as not being its replies.
    var dropped: Int { onLoop { [client] in client!.droppedReplies } }

    func stop() { loop.stop() }

    final class Box<T>: @unchecked Sendable {
        var value: T?
        let done = DispatchSemaphore(value: 0)
    }

    /// UDP sockets of this host connected to `port` on 127.0.0.1 (from /proc/net/udp): the
    /// client's query sockets to a test resolver, which must all be closed after a lookup.
    static func socketsConnected(to port: Int) -> Int {
        let table = (try? String(contentsOfFile: "/proc/net/udp", encoding: .utf8)) ?? ""
        let remote = String(format: "0100007F:%04X", port)
        return table.split(separator: "\n").dropFirst().filter { line in
            let fields = line.split(separator: " ")
            return fields.count > 2 && fields[2] == remote
        }.count
    }
}

/// A UDP "resolver" on 127.0.0.1 (port 0) that answers each datagram with what `answer`
/// returns (any number of datagrams, in order), on its own thread.
final class FakeDNSServer: @unchecked Sendable {
    let fd: Int32
    let port: Int
    let address: SocketAddress
    private let lock = NSLock()
    private var _queries: [[UInt8]] = []
    private var stopped = false
    private let finished = DispatchSemaphore(value: 0)

    init(_ answer: @escaping @Sendable (_ query: [UInt8]) -> [[UInt8]]) throws {
        fd = try UDPSocket.bound(to: SocketAddress.resolve("127.0.0.1:0"))
        address = try Socket.localAddress(fd)
        port = address.port
        Thread { [self] in serve(answer) }.start()
    }

    /// Every datagram received so far.
    var queries: [[UInt8]] { lock.withLock { _queries } }

    private func serve(_ answer: ([UInt8]) -> [[UInt8]]) {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while !lock.withLock({ stopped }) {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 20) > 0 else { continue }
            while case .done(let (n, peer))? = try? UDPSocket.receive(fd, into: &buffer) {
                let q = Array(buffer[..<min(n, buffer.count)])
                lock.withLock { _queries.append(q) }
                for datagram in answer(q) { _ = try? UDPSocket.send(fd, datagram, to: peer) }
            }
        }
        finished.signal()
    }

    func stop() {
        lock.withLock { stopped = true }
        finished.wait()
        Socket.close(fd)
    }
}
