import Foundation
import Glibc
import Synchronization

/// A scripted backend: answers every request with fixed bytes and records what it received.
///
/// For responses no well-behaved server would send (invalid framing, cut bodies, stray bytes).
/// Each connection reads until the request head ends, then writes `reply` (and closes when asked).
final class RawBackend: @unchecked Sendable {
    var port: Int { acceptor.port }
    private var acceptor: LoopbackAcceptor!
    private let received = Mutex<[UInt8]>([])
    private let connections = Atomic<Int>(0)
    private let eofs = Atomic<Int>(0)
    let reply: [UInt8]
    let closeAfter: Bool
    let delayMillis: Int
    /// TCP_CORK around the reply, so its last bytes and the FIN leave in one segment.
    let cork: Bool

    init(reply: String, closeAfter: Bool = true, delayMillis: Int = 0, cork: Bool = false) throws {
        self.reply = Array(reply.utf8)
        self.closeAfter = closeAfter
        self.delayMillis = delayMillis
        self.cork = cork
        acceptor = LoopbackAcceptor(backlog: 64) { [self] c in
            connections.wrappingAdd(1, ordering: .relaxed)
            serve(c)
        }
    }

    deinit { stop() }

    func stop() { acceptor.stop() }

    var receivedText: String { String(decoding: received.withLock { $0 }, as: UTF8.self) }
    var connectionCount: Int { connections.load(ordering: .relaxed) }
    /// Connections on which the backend read the end of stream (the proxy closed its side).
    var eofCount: Int { eofs.load(ordering: .relaxed) }

    private func serve(_ c: Int32) {
        var tv = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var seen: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buf.withUnsafeMutableBytes { recv(c, $0.baseAddress!, $0.count, 0) }
            if n == 0 { eofs.wrappingAdd(1, ordering: .relaxed) }
            if n <= 0 { break }
            seen.append(contentsOf: buf[0..<n])
            received.withLock { $0.append(contentsOf: buf[0..<n]) }
            // Answer each complete head once.
            if let r = seen.firstRange(of: Array("\r\n\r\n".utf8)) {
                seen.removeSubrange(0..<r.upperBound)
                if delayMillis > 0 { usleep(UInt32(delayMillis * 1000)) }
                var on: Int32 = 1
                if cork { setsockopt(c, Int32(IPPROTO_TCP), TCP_CORK, &on, 4) }
                _ = reply.withUnsafeBytes { send(c, $0.baseAddress!, $0.count, Int32(MSG_NOSIGNAL)) }
                if closeAfter { break }
            }
        }
        close(c)
    }
}

/// A listening socket on 127.0.0.1 (a free port) whose accept loop hands each connection to
/// its own thread running `serve`, until `stop()`: the shared part of the tests' backends.
final class LoopbackAcceptor: @unchecked Sendable {
    let port: Int
    private let fd: Int32
    private let stopped = Atomic<Bool>(false)

    private let serve: @Sendable (Int32) -> Void

    init(backlog: Int32, serve: @escaping @Sendable (Int32) -> Void) {
        self.serve = serve
        (fd, port) = listenOnLoopback(backlog: backlog)
        Thread { [self] in acceptLoop() }.start()
    }

    private func acceptLoop() {
        while !isStopped {
            let c = accept(fd, nil, nil)
            if c < 0 { return }
            Thread { [serve] in serve(c) }.start()
        }
    }

    var isStopped: Bool { stopped.load(ordering: .relaxed) }

    func stop() {
        if !stopped.exchange(true, ordering: .relaxed) {
            Glibc.shutdown(fd, Int32(SHUT_RDWR))
            Glibc.close(fd)
        }
    }
}

/// A listening TCP socket on 127.0.0.1 and a free port: its descriptor and the port.
func listenOnLoopback(backlog: Int32) -> (Int32, Int) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var one: Int32 = 1
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, 4)
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    _ = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    listen(fd, backlog)
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
    }
    return (fd, Int(UInt16(bigEndian: addr.sin_port)))
}
