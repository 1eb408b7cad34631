import Foundation
import Glibc
import Synchronization

/// A request as the origin received it.
struct OriginRequest: Sendable {
    var method: String
    var target: String
    var headers: [(String, String)]

    func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
}

/// The origin's answer to one request. `pieces` are written in turn, `pauseMillis` apart
/// (a response that arrives slowly); `chunked` frames the body in chunks, else Content-Length
/// (or no length at all with `closeDelimited`). `cutAfter`: close after that many pieces.
struct OriginReply: Sendable {
    var status = 200
    var headers: [(String, String)] = []
    var pieces: [[UInt8]] = []
    var chunked = false
    var closeDelimited = false
    var pauseMillis = 0
    var cutAfter: Int? = nil
    var delayMillis = 0

    init(status: Int = 200, headers: [(String, String)] = [], body: String = "") {
        self.status = status
        self.headers = headers
        pieces = body.isEmpty ? [] : [Array(body.utf8)]
    }

    var body: [UInt8] { pieces.flatMap { $0 } }
}

/// A programmable HTTP/1.1 origin for cache tests: `handler` answers each request; every
/// request is recorded (`requests`, `count(path:)`). One thread per connection, keep-alive.
final class OriginServer: @unchecked Sendable {
    var port: Int { acceptor.port }
    private var acceptor: LoopbackAcceptor!
    /// Behind an NSLock, not a Synchronization.Mutex: ThreadSanitizer models pthread locks only.
    private let lock = NSLock()
    private var log: [OriginRequest] = []
    private let handler: @Sendable (OriginRequest) -> OriginReply

    init(_ handler: @escaping @Sendable (OriginRequest) -> OriginReply) {
        self.handler = handler
        acceptor = LoopbackAcceptor(backlog: 512) { [self] c in serve(c) }
    }

    deinit { stop() }

    func stop() { acceptor.stop() }

    var requests: [OriginRequest] {
        lock.lock()
        defer { lock.unlock() }
        return log
    }

    /// Requests received for `target` (path and query).
    func count(_ target: String) -> Int { requests.filter { $0.target == target }.count }

    private func serve(_ c: Int32) {
        defer { close(c) }
        var tv = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var seen: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 16384)
        while !acceptor.isStopped {
            guard let r = seen.firstRange(of: Array("\r\n\r\n".utf8)) else {
                let n = buf.withUnsafeMutableBytes { recv(c, $0.baseAddress!, $0.count, 0) }
                if n <= 0 { return }
                seen.append(contentsOf: buf[0..<n])
                continue
            }
            let headText = String(decoding: seen[0..<r.lowerBound], as: UTF8.self)
            seen.removeSubrange(0..<r.upperBound)
            var lines = headText.components(separatedBy: "\r\n")
            let requestLine = lines.removeFirst().split(separator: " ")
            guard requestLine.count >= 2 else { return }
            let headers = lines.compactMap { l -> (String, String)? in
                guard let i = l.firstIndex(of: ":") else { return nil }
                return (String(l[..<i]), l[l.index(after: i)...].trimmingCharacters(in: .whitespaces))
            }
            let req = OriginRequest(method: String(requestLine[0]), target: String(requestLine[1]), headers: headers)
            lock.lock()
            log.append(req)
            lock.unlock()
            let reply = handler(req)
            if reply.delayMillis > 0 { usleep(UInt32(reply.delayMillis * 1000)) }
            if !write(c, reply, head: req.method == "HEAD") { return }
        }
    }

    /// Writes `reply`; false when the connection must end (cut, close-delimited, failed).
    private func write(_ c: Int32, _ reply: OriginReply, head: Bool) -> Bool {
        var h = "HTTP/1.1 \(reply.status) X\r\n"
        for (k, v) in reply.headers { h += "\(k): \(v)\r\n" }
        let hasBody = !head && reply.status != 304 && reply.status != 204
        if reply.chunked {
            h += "Transfer-Encoding: chunked\r\n"
        } else if !reply.closeDelimited {
            h += "Content-Length: \(reply.body.count)\r\n"
        } else {
            h += "Connection: close\r\n"
        }
        h += "\r\n"
        guard sendAll(c, Array(h.utf8)) else { return false }
        guard hasBody else { return !reply.closeDelimited }
        for (i, piece) in reply.pieces.enumerated() {
            if let cut = reply.cutAfter, i >= cut { return false }
            if i > 0 && reply.pauseMillis > 0 { usleep(UInt32(reply.pauseMillis * 1000)) }
            var bytes = piece
            if reply.chunked { bytes = Array(String(piece.count, radix: 16).utf8) + [13, 10] + piece + [13, 10] }
            guard sendAll(c, bytes) else { return false }
        }
        if reply.cutAfter != nil { return false }
        if reply.chunked { guard sendAll(c, Array("0\r\n\r\n".utf8)) else { return false } }
        return !reply.closeDelimited
    }

    private func sendAll(_ c: Int32, _ bytes: [UInt8]) -> Bool {
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { send(c, $0.baseAddress! + off, $0.count - off, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return false }
            off += n
        }
        return true
    }
}
