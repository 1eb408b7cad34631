import Foundation
import Glibc
import SluiceSystem
import Synchronization

/// One change of a cluster's traffic state as seen on the admin `/metrics`: when the poll
/// that first saw it ended (monotonic nanoseconds), the states, and the cluster's
/// `sluice_traffic_rate` (10 s and 10-minute level) in that poll.
public struct TrafficStateChange: Sendable, Codable, Equatable {
    public var atNanos: UInt64
    public var from: String
    public var to: String
    public var rate10s: Double
    public var rate10m: Double
}

/// Polls `GET /metrics` on Sluice's admin listener from its own thread, over a new connection
/// each time, every `interval`, and keeps the changes of one cluster's
/// `sluice_traffic_state{cluster=…,state=…} 1`. `start()`, then `stop()` returns what it saw.
public final class TrafficStatePoller: @unchecked Sendable {
    struct Seen {
        var state: String?
        var changes: [TrafficStateChange] = []
        var polls = 0
        var failures = 0
        var lastError: String?
    }

    let port: Int
    let cluster: String
    let intervalNanos: UInt64
    private let seen = Mutex(Seen())
    private let stopping = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)

    public init(adminPort: Int, cluster: String, intervalMillis: Int = 100) {
        port = adminPort
        self.cluster = cluster
        intervalNanos = UInt64(max(1, intervalMillis)) * 1_000_000
    }

    public func start() {
        let t = Thread { [self] in
            var next = Clock.monotonicNanos()
            while !stopping.load(ordering: .relaxed) {
                pollOnce()
                next &+= intervalNanos
                let now = Clock.monotonicNanos()
                if next > now { usleep(UInt32((next - now) / 1000)) } else { next = now }
            }
            finished.signal()
        }
        t.name = "storm-poller"
        t.start()
    }

    /// Stops the thread (after its current poll) and returns the changes, the number of polls
    /// and of failed polls (a page without the state after it was first seen, or no answer),
    /// and the last failure's text.
    public func stop() -> (changes: [TrafficStateChange], polls: Int, failures: Int, lastError: String?) {
        stopping.store(true, ordering: .relaxed)
        finished.wait()
        return seen.withLock { ($0.changes, $0.polls, $0.failures, $0.lastError) }
    }

    func pollOnce() {
        let body: String
        do {
            body = try Self.get("/metrics", port: port)
        } catch {
            seen.withLock {
                $0.polls += 1
                $0.failures += 1
                $0.lastError = "\(error)"
            }
            return
        }
        let at = Clock.monotonicNanos()
        let parsed = Self.parse(body, cluster: cluster)
        seen.withLock { s in
            s.polls += 1
            guard let state = parsed.state else {
                // Before the control thread's first tick the metric is not there yet.
                if s.state == nil { return }
                s.failures += 1
                s.lastError = "no sluice_traffic_state{cluster=\"\(cluster)\"} at 1 in /metrics"
                return
            }
            if state != s.state {
                s.changes.append(
                    TrafficStateChange(atNanos: at, from: s.state ?? "-", to: state, rate10s: parsed.rate10s, rate10m: parsed.rate10m))
                s.state = state
            }
        }
    }

    /// The cluster's state (the `state` label whose value is 1) and its traffic rates in a
    /// Prometheus text page. Pure.
    static func parse(_ text: String, cluster: String) -> (state: String?, rate10s: Double, rate10m: Double) {
        let labelPrefix = "cluster=\"\(cluster)\","
        var state: String?
        var r10s = 0.0
        var r10m = 0.0
        for line in text.split(separator: "\n") where line.hasPrefix("sluice_traffic_") {
            guard let open = line.firstIndex(of: "{"), let close = line.lastIndex(of: "}") else { continue }
            let name = line[..<open]
            let labels = line[line.index(after: open)..<close]
            guard labels.hasPrefix(labelPrefix), let value = Double(line[line.index(after: close)...].trimmingCharacters(in: .whitespaces))
            else { continue }
            let rest = labels.dropFirst(labelPrefix.count)
            if name == "sluice_traffic_state", value == 1, rest.hasPrefix("state=\"") {
                state = String(rest.dropFirst(7).prefix { $0 != "\"" })
            } else if name == "sluice_traffic_rate" {
                if rest == "window=\"10s\"" { r10s = value }
                if rest == "window=\"10m\"" { r10m = value }
            }
        }
        return (state, r10s, r10m)
    }

    struct PollError: Error, CustomStringConvertible {
        var description: String
    }

    /// A blocking `GET path` to 127.0.0.1:port with `Connection: close`; the body of a 200.
    /// Times out after 2 s of silence.
    static func get(_ path: String, port: Int) throws -> String {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw PollError(description: "socket: errno \(errno)") }
        defer { Glibc.close(fd) }
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = in_addr_t(UInt32(0x7F00_0001).bigEndian)
        let connected = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw PollError(description: "connect to admin port \(port): errno \(errno)") }
        let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8)
        let sent = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        guard sent == request.count else { throw PollError(description: "send: errno \(errno)") }
        var response: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { break }
            guard n > 0 else { throw PollError(description: "recv: errno \(errno)") }
            response.append(contentsOf: chunk[0..<n])
        }
        let text = String(decoding: response, as: UTF8.self)
        guard text.hasPrefix("HTTP/1.1 200"), let split = text.range(of: "\r\n\r\n") else {
            throw PollError(description: "admin answered: \(text.prefix(40))")
        }
        return String(text[split.upperBound...])
    }
}
