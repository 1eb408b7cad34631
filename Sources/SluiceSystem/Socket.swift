import CSluiceLinux
import Glibc

/// Socket calls, each a thin wrapper over one syscall through `syscall(_:_:)`.
///
/// Descriptors are plain `Int32`: their owner (a connection or listener object)
/// closes them exactly once. Every socket is non-blocking and close-on-exec.
package enum Socket {
    /// A listening TCP socket bound to `address`; `reusePort` lets each worker own one.
    package static func listen(_ address: SocketAddress, reusePort: Bool, backlog: Int32 = 4096) throws(SystemError) -> Int32 {
        let fd = Int32(
            try syscallValue("socket") {
                Int(socket(address.family, Int32(SOCK_STREAM.rawValue | SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue), 0))
            })
        do {
            try setOption(fd, SOL_SOCKET, SO_REUSEADDR, 1)
            if reusePort { try setOption(fd, SOL_SOCKET, SO_REUSEPORT, 1) }
            var addr = address
            _ = try syscallValue("bind") {
                withUnsafePointer(to: &addr.storage) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Int(bind(fd, $0, addr.length)) }
                }
            }
            _ = try syscallValue("listen") { Int(Glibc.listen(fd, backlog)) }
        } catch {
            Glibc.close(fd)
            throw error
        }
        return fd
    }

    /// Accepts one connection, non-blocking and close-on-exec.
    @inlinable @inline(__always)
    package static func accept(_ fd: Int32, peer: inout SocketAddress) throws(SystemError) -> IOResult<Int32> {
        peer.length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let r = try syscall("accept4") {
            withUnsafeMutablePointer(to: &peer.storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Int(csluice_accept4(fd, $0, &peer.length, Int32(SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue)))
                }
            }
        }
        switch r {
        case .done(let v): return .done(Int32(v))
        case .wouldBlock: return .wouldBlock
        }
    }

    /// Starts a non-blocking connect; `.wouldBlock` means in progress (wait for writable, then `pendingError`).
    package static func connect(to address: SocketAddress) throws(SystemError) -> (fd: Int32, inProgress: Bool) {
        let fd = Int32(
            try syscallValue("socket") {
                Int(socket(address.family, Int32(SOCK_STREAM.rawValue | SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue), 0))
            })
        var addr = address
        do {
            let r = try syscall("connect") {
                withUnsafePointer(to: &addr.storage) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Int(Glibc.connect(fd, $0, addr.length)) }
                }
            }
            if case .wouldBlock = r { return (fd, true) }
            return (fd, false)
        } catch {
            Glibc.close(fd)
            throw error
        }
    }

    /// SO_ERROR after a non-blocking connect: 0 when connected.
    package static func pendingError(_ fd: Int32) -> Int32 {
        var value: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        if getsockopt(fd, SOL_SOCKET, SO_ERROR, &value, &len) != 0 { return csluice_errno() }
        return value
    }

    /// Reads into `buffer`; `.done(0)` is end of stream.
    @inlinable @inline(__always)
    package static func read(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) throws(SystemError) -> IOResult<Int> {
        try syscall("read") { Glibc.read(fd, buffer, count) }
    }

    /// Writes from `buffer`; may write fewer bytes than asked.
    @inlinable @inline(__always)
    package static func write(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) throws(SystemError) -> IOResult<Int> {
        try syscall("send") { Glibc.send(fd, buffer, count, Int32(MSG_NOSIGNAL)) }
    }

    package static func close(_ fd: Int32) {
        _ = Glibc.close(fd)
    }

    /// Half-closes the sending side (FIN) so the peer reads end of stream.
    package static func shutdownWrite(_ fd: Int32) {
        _ = Glibc.shutdown(fd, Int32(SHUT_WR))
    }

    package static func setOption(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: Int32) throws(SystemError) {
        var v = value
        _ = try syscallValue("setsockopt") {
            Int(setsockopt(fd, level, name, &v, socklen_t(MemoryLayout<Int32>.size)))
        }
    }

    package static func setNoDelay(_ fd: Int32) {
        var one: Int32 = 1
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    /// A connected pair of non-blocking Unix stream sockets (the cache's background
    /// refreshes run as requests over one).
    package static func pair() throws(SystemError) -> (Int32, Int32) {
        var fds: [Int32] = [-1, -1]
        _ = try syscallValue("socketpair") {
            Int(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds))
        }
        return (fds[0], fds[1])
    }

    /// The local address a socket is bound to (for port 0 listeners).
    package static func localAddress(_ fd: Int32) throws(SystemError) -> SocketAddress {
        var addr = SocketAddress(storage: sockaddr_storage(), length: socklen_t(MemoryLayout<sockaddr_storage>.size))
        _ = try syscallValue("getsockname") {
            withUnsafeMutablePointer(to: &addr.storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Int(getsockname(fd, $0, &addr.length)) }
            }
        }
        return addr
    }
}
