import CSluiceLinux
import Glibc

/// UDP socket calls (the DNS client's queries; tests' fake servers), each one syscall through
/// `syscall(_:_:)`. Every socket is non-blocking and close-on-exec; its owner closes it once
/// with `Socket.close`.
package enum UDPSocket {
    /// A UDP socket connected to `peer`: the kernel then delivers only `peer`'s datagrams, and
    /// reports ICMP errors for it (ECONNREFUSED) on the next receive.
    package static func connected(to peer: SocketAddress) throws(SystemError) -> Int32 {
        let fd = try open(peer.family)
        var addr = peer
        do {
            _ = try syscallValue("connect") {
                withUnsafePointer(to: &addr.storage) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Int(Glibc.connect(fd, $0, addr.length)) }
                }
            }
        } catch {
            Glibc.close(fd)
            throw error
        }
        return fd
    }

    /// A UDP socket bound to `address` (port 0: any free port; read it with `Socket.localAddress`).
    package static func bound(to address: SocketAddress) throws(SystemError) -> Int32 {
        let fd = try open(address.family)
        var addr = address
        do {
            _ = try syscallValue("bind") {
                withUnsafePointer(to: &addr.storage) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Int(bind(fd, $0, addr.length)) }
                }
            }
        } catch {
            Glibc.close(fd)
            throw error
        }
        return fd
    }

    /// Sends one datagram on a connected socket.
    package static func send(_ fd: Int32, _ bytes: [UInt8]) throws(SystemError) -> IOResult<Int> {
        try bytes.withUnsafeBytes { p in
            Result { () throws(SystemError) in
                try syscall("send") { Glibc.send(fd, p.baseAddress, p.count, Int32(MSG_NOSIGNAL)) }
            }
        }.get()
    }

    /// Sends one datagram to `peer` on an unconnected socket.
    package static func send(_ fd: Int32, _ bytes: [UInt8], to peer: SocketAddress) throws(SystemError) -> IOResult<Int> {
        var addr = peer
        return try bytes.withUnsafeBytes { p in
            Result { () throws(SystemError) in
                try syscall("sendto") {
                    withUnsafePointer(to: &addr.storage) {
                        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                            Glibc.sendto(fd, p.baseAddress, p.count, Int32(MSG_NOSIGNAL), $0, addr.length)
                        }
                    }
                }
            }
        }.get()
    }

    /// Receives one datagram into `buffer`; its real length, which is larger than the buffer
    /// when the datagram did not fit (MSG_TRUNC), and the sender's address.
    package static func receive(_ fd: Int32, into buffer: inout [UInt8]) throws(SystemError) -> IOResult<(Int, SocketAddress)> {
        var peer = SocketAddress(storage: sockaddr_storage(), length: socklen_t(MemoryLayout<sockaddr_storage>.size))
        let r = try buffer.withUnsafeMutableBytes { p in
            Result { () throws(SystemError) in
                try syscall("recvfrom") {
                    withUnsafeMutablePointer(to: &peer.storage) {
                        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                            Glibc.recvfrom(fd, p.baseAddress, p.count, Int32(MSG_TRUNC), $0, &peer.length)
                        }
                    }
                }
            }
        }.get()
        switch r {
        case .done(let n): return .done((n, peer))
        case .wouldBlock: return .wouldBlock
        }
    }

    private static func open(_ family: Int32) throws(SystemError) -> Int32 {
        Int32(
            try syscallValue("socket") {
                Int(socket(family, Int32(SOCK_DGRAM.rawValue | SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue), 0))
            })
    }
}
