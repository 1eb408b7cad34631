import Foundation
import Glibc
import SluiceSystem

/// A response as a test client saw it.
struct TestResponse {
    var status: Int
    var headers: [(String, String)]
    var body: [UInt8]
    /// The body ended cleanly (length reached or terminal chunk), not by a cut connection.
    var complete: Bool

    func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }

    func headers(_ name: String) -> [String] {
        headers.filter { $0.0.lowercased() == name.lowercased() }.map(\.1)
    }

    var text: String { String(decoding: body, as: UTF8.self) }
}

struct TestClientError: Error, CustomStringConvertible {
    let description: String
}

/// A blocking HTTP/1.1 client over a real socket, for tests: exact bytes out, strict reading in.
final class TestClient: @unchecked Sendable {
    let fd: Int32
    private var buffer: [UInt8] = []
    private(set) var closedByPeer = false

    /// `receiveBuffer` sets SO_RCVBUF before connecting (a small window, for a client that stops reading).
    init(port: Int, timeoutSeconds: Int = 10, receiveBuffer: Int32? = nil) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var tv = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        if var size = receiveBuffer { setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size)) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if rc != 0 {
            // No close here: a class whose init throws after every property is set still runs
            // deinit, which closes `fd`. Closing twice could close a descriptor another thread
            // (a proxy worker in this process) just received with the same number.
            throw TestClientError(description: "connect to \(port) failed: errno \(errno)")
        }
    }

    deinit { Glibc.close(fd) }

    func send(_ text: String) throws { try send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) throws {
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress!, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { throw TestClientError(description: "send failed: errno \(errno)") }
            off += n
        }
    }

    func shutdownWrite() { Glibc.shutdown(fd, Int32(SHUT_WR)) }

    /// Reads more bytes into the buffer; false at end of stream or timeout.
    @discardableResult
    func fill() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = chunk.withUnsafeMutableBytes { Glibc.recv(fd, $0.baseAddress!, $0.count, 0) }
        if n <= 0 {
            closedByPeer = n == 0 || errno == ECONNRESET
            return false
        }
        buffer.append(contentsOf: chunk[0..<n])
        return true
    }

    /// True when the server has sent bytes this client has not read yet (peeks; reads nothing).
    func hasUnreadBytes() -> Bool {
        var byte: UInt8 = 0
        return Glibc.recv(fd, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT)) > 0
    }

    /// Takes whatever is buffered.
    func drainBuffer() -> [UInt8] {
        defer { buffer.removeAll() }
        return buffer
    }

    /// Everything until the server closes.
    func readToEnd() -> [UInt8] {
        while fill() {}
        defer { buffer.removeAll() }
        return buffer
    }

    /// True when the server closed the connection (reads end of stream within the timeout).
    func isClosedByServer() -> Bool {
        if !buffer.isEmpty { return false }
        return !fill() && closedByPeer
    }

    private func line() throws -> String {
        while true {
            if let i = buffer.firstIndex(of: 10) {
                let l = buffer[0..<i]
                buffer.removeFirst(i + 1)
                return String(decoding: l.last == 13 ? l.dropLast() : l, as: UTF8.self)
            }
            if !fill() { throw TestClientError(description: "connection ended inside a head") }
        }
    }

    private func take(_ n: Int) -> [UInt8]? {
        while buffer.count < n { if !fill() { return nil } }
        let out = Array(buffer[0..<n])
        buffer.removeFirst(n)
        return out
    }

    /// Reads one response; `head` tells it the body is absent. Interim 1xx responses are returned too.
    func readResponse(head: Bool = false) throws -> TestResponse {
        let statusLine = try line()
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]) else {
            throw TestClientError(description: "bad status line: \(statusLine)")
        }
        var headers: [(String, String)] = []
        while true {
            let l = try line()
            if l.isEmpty { break }
            guard let c = l.firstIndex(of: ":") else { throw TestClientError(description: "bad header: \(l)") }
            headers.append((String(l[..<c]), l[l.index(after: c)...].trimmingCharacters(in: .whitespaces)))
        }
        var r = TestResponse(status: status, headers: headers, body: [], complete: true)
        if head || status < 200 || status == 204 || status == 304 { return r }
        if r.header("transfer-encoding")?.lowercased() == "chunked" {
            while true {
                guard let sizeLine = try? line(), let size = Int(sizeLine.split(separator: ";").first ?? "", radix: 16) else {
                    r.complete = false
                    return r
                }
                if size == 0 {
                    while let t = try? line(), !t.isEmpty {}
                    return r
                }
                guard let data = take(size), take(2) != nil else {
                    r.body.append(contentsOf: buffer)
                    buffer.removeAll()
                    r.complete = false
                    return r
                }
                r.body.append(contentsOf: data)
            }
        } else if let cl = r.header("content-length"), let n = Int(cl) {
            if let data = take(n) {
                r.body = data
            } else {
                r.body = buffer
                buffer.removeAll()
                r.complete = false
            }
        } else {
            r.body = readToEnd()
        }
        return r
    }

    /// Sends a request and reads its final response.
    func request(_ text: String) throws -> TestResponse {
        try send(text)
        var r = try readResponse(head: text.hasPrefix("HEAD "))
        while r.status < 200 && r.status != 101 { r = try readResponse() }
        return r
    }
}

/// One-shot GET on a fresh connection.
func get(_ port: Int, _ path: String, headers: String = "") throws -> TestResponse {
    let c = try TestClient(port: port)
    return try c.request("GET \(path) HTTP/1.1\r\nHost: test\r\n\(headers)Connection: close\r\n\r\n")
}
