import CSluiceLinux
import Glibc

/// An IPv4 or IPv6 socket address, stored inline (no allocation).
///
/// Public, with its host, port and text: `Config` and `ProxyServer.address(ofListener:)` hand it
/// out. The rest (resolving, the raw storage) is `package`.
public struct SocketAddress: Sendable, Hashable, CustomStringConvertible {
    @usableFromInline package var storage: sockaddr_storage
    @usableFromInline package var length: socklen_t

    package init(storage: sockaddr_storage, length: socklen_t) {
        self.storage = storage
        self.length = length
    }

    public static func == (a: SocketAddress, b: SocketAddress) -> Bool {
        a.description == b.description
    }

    public func hash(into h: inout Hasher) { h.combine(description) }

    /// Parses `host:port` or `[v6]:port`; a hostname is resolved now (getaddrinfo, blocking).
    package static func resolve(_ text: String) throws(AddressError) -> SocketAddress {
        let (host, port) = try split(text)
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &result)
        guard rc == 0, let first = result else {
            throw AddressError(message: "cannot resolve \"\(host)\": \(String(cString: gai_strerror(rc)))")
        }
        defer { freeaddrinfo(result) }
        // Prefer IPv4 when a name has both, as most backends listen on IPv4.
        var chosen = first
        var p: UnsafeMutablePointer<addrinfo>? = first
        while let cur = p {
            if cur.pointee.ai_family == AF_INET { chosen = cur; break }
            p = cur.pointee.ai_next
        }
        var storage = sockaddr_storage()
        let len = chosen.pointee.ai_addrlen
        withUnsafeMutableBytes(of: &storage) { dst in
            dst.copyMemory(from: UnsafeRawBufferPointer(start: chosen.pointee.ai_addr, count: Int(len)))
        }
        return SocketAddress(storage: storage, length: len)
    }

    /// Parses `ip:port` or `[ipv6]:port` with a numeric host only (never a lookup): discovered
    /// and API-added backends. nil for anything else, port 0 included.
    package static func numeric(_ text: String) -> SocketAddress? {
        guard let (host, port) = try? split(text), port > 0 else { return nil }
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &result) == 0, let first = result else { return nil }
        defer { freeaddrinfo(result) }
        var storage = sockaddr_storage()
        let len = first.pointee.ai_addrlen
        withUnsafeMutableBytes(of: &storage) { dst in
            dst.copyMemory(from: UnsafeRawBufferPointer(start: first.pointee.ai_addr, count: Int(len)))
        }
        return SocketAddress(storage: storage, length: len)
    }

    /// An address from the raw bytes of a DNS record: 4 (A) or 16 (AAAA) bytes, network order.
    package static func fromRecord(_ bytes: [UInt8], port: Int) -> SocketAddress? {
        var storage = sockaddr_storage()
        let p = UInt16(truncatingIfNeeded: port).bigEndian
        switch bytes.count {
        case 4:
            var a = sockaddr_in()
            a.sin_family = sa_family_t(AF_INET)
            a.sin_port = p
            withUnsafeMutableBytes(of: &a.sin_addr) { $0.copyBytes(from: bytes) }
            withUnsafeMutableBytes(of: &storage) { dst in withUnsafeBytes(of: a) { dst.copyMemory(from: $0) } }
            return SocketAddress(storage: storage, length: socklen_t(MemoryLayout<sockaddr_in>.size))
        case 16:
            var a = sockaddr_in6()
            a.sin6_family = sa_family_t(AF_INET6)
            a.sin6_port = p
            withUnsafeMutableBytes(of: &a.sin6_addr) { $0.copyBytes(from: bytes) }
            withUnsafeMutableBytes(of: &storage) { dst in withUnsafeBytes(of: a) { dst.copyMemory(from: $0) } }
            return SocketAddress(storage: storage, length: socklen_t(MemoryLayout<sockaddr_in6>.size))
        default:
            return nil
        }
    }

    /// Splits `host:port`; checks the port is 0...65535.
    package static func split(_ text: String) throws(AddressError) -> (host: String, port: Int) {
        var host: Substring
        var portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw AddressError(message: "bad address \"\(text)\": missing ]") }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { throw AddressError(message: "bad address \"\(text)\": expected host:port") }
            portText = rest.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":") else {
                throw AddressError(message: "bad address \"\(text)\": expected host:port")
            }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        guard !host.isEmpty else { throw AddressError(message: "bad address \"\(text)\": empty host") }
        guard let port = Int(portText), (0...65535).contains(port) else {
            throw AddressError(message: "bad address \"\(text)\": port must be 0-65535")
        }
        return (String(host), port)
    }

    package var family: Int32 { Int32(storage.ss_family) }

    public var port: Int {
        withUnsafeBytes(of: storage) { raw in
            if family == AF_INET6 {
                return Int(UInt16(bigEndian: raw.load(fromByteOffset: 2, as: UInt16.self)))
            }
            return Int(UInt16(bigEndian: raw.load(fromByteOffset: 2, as: UInt16.self)))
        }
    }

    /// The IP address as text, without the port.
    public var host: String {
        var buf = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        var copy = storage
        return withUnsafePointer(to: &copy) { p in
            p.withMemoryRebound(to: UInt8.self, capacity: MemoryLayout<sockaddr_storage>.size) { bytes in
                if family == AF_INET6 {
                    _ = inet_ntop(AF_INET6, bytes + 8, &buf, socklen_t(buf.count))
                } else {
                    _ = inet_ntop(AF_INET, bytes + 4, &buf, socklen_t(buf.count))
                }
                let end = buf.firstIndex(of: 0) ?? buf.count
                return String(decoding: buf[..<end].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            }
        }
    }

    /// True for 0.0.0.0 and [::] (every local address).
    package var isWildcard: Bool { host == "0.0.0.0" || host == "::" }

    /// Would binding both fail or share one port: the same port (not 0) on the same address,
    /// or on a wildcard address (which also covers IPv4 for [::]).
    package static func overlap(_ a: SocketAddress, _ b: SocketAddress) -> Bool {
        guard a.port != 0, a.port == b.port else { return false }
        return a == b || a.isWildcard || b.isWildcard
    }

    public var description: String {
        family == AF_INET6 ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}

/// An address that does not parse or resolve.
package struct AddressError: Error, Sendable, CustomStringConvertible {
    package let message: String
    package var description: String { message }
}
