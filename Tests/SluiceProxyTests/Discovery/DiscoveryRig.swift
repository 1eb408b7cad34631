import Foundation
import Glibc
import SluiceBackend
import Testing

/// What the discovery tests share: admin calls, `/status` of one cluster, polling, and a
/// steady keep-alive load that counts every failed answer.
enum DiscoveryRig {
    /// One admin call on a fresh connection.
    static func call(_ admin: Int, _ method: String, _ path: String, body: String = "", token: String? = nil) throws -> TestResponse {
        let c = try TestClient(port: admin)
        let auth = token.map { "Authorization: Bearer \($0)\r\n" } ?? ""
        return try c.request(
            "\(method) \(path) HTTP/1.1\r\nHost: admin\r\n\(auth)Content-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)")
    }

    /// The backends of `cluster` in `/status`, by name.
    static func backends(_ admin: Int, cluster: String = "app") throws -> [String: [String: Any]] {
        let r = try get(admin, "/status")
        let doc = try JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any]
        let c = (doc?["clusters"] as? [[String: Any]])?.first { $0["name"] as? String == cluster }
        var out: [String: [String: Any]] = [:]
        for b in c?["backends"] as? [[String: Any]] ?? [] { if let n = b["name"] as? String { out[n] = b } }
        return out
    }

    static func cluster(_ admin: Int, _ name: String = "app") throws -> [String: Any] {
        let r = try get(admin, "/status")
        let doc = try JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any]
        return (doc?["clusters"] as? [[String: Any]])?.first { $0["name"] as? String == name } ?? [:]
    }

    /// Polls `condition` every 50 ms until it holds (a throw counts as not yet) or `timeout`
    /// passes; returns the seconds it took (nil: never).
    @discardableResult
    static func until(_ timeout: TimeInterval, _ condition: () throws -> Bool) -> Double? {
        let start = Date()
        while Date().timeIntervalSince(start) < timeout {
            if (try? condition()) == true { return Date().timeIntervalSince(start) }
            usleep(50_000)
        }
        return nil
    }

    /// A metric's value from `/metrics` (the first series whose line starts with `series`).
    static func metric(_ admin: Int, _ series: String) throws -> Double? {
        let text = String(decoding: try get(admin, "/metrics").body, as: UTF8.self)
        for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.split(separator: " ").last ?? "")
        }
        return nil
    }

    /// Writes `text` to `path` atomically (a temporary file renamed over it), as deploy tools do.
    static func write(_ text: String, to path: String) throws {
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }
}

/// `threads` keep-alive clients, each sending about `rate / threads` requests a second until
/// stopped; every answer that is not 200, and every connection that fails, is an error.
final class SteadyLoad: @unchecked Sendable {
    private let lock = NSLock()
    private var stopFlag = false
    private var threadsDone = 0
    private(set) var ok = 0
    private(set) var errors: [String] = []
    private var byBackend: [String: Int] = [:]
    private var timeline: [(t: Double, backend: String)] = []
    let started = Date()
    private let threads: Int

    init(port: Int, rate: Int, threads: Int = 4, path: String = "/") {
        self.threads = threads
        let gap = UInt32(1_000_000 * threads / max(rate, 1))
        for _ in 0..<threads {
            Thread.detachNewThread { [self] in
                var client: TestClient? = nil
                while !isStopped {
                    let t0 = Date()
                    do {
                        if client == nil { client = try TestClient(port: port) }
                        let r = try client!.request("GET \(path) HTTP/1.1\r\nHost: shop\r\n\r\n")
                        record(r)
                        if r.header("connection")?.lowercased() == "close" { client = nil }
                    } catch {
                        note("request failed: \(error)")
                        client = nil
                    }
                    let spent = UInt32(Date().timeIntervalSince(t0) * 1_000_000)
                    if spent < gap { usleep(gap - spent) }
                }
                lock.lock()
                threadsDone += 1
                lock.unlock()
            }
        }
    }

    private var isStopped: Bool {
        lock.lock()
        defer { lock.unlock() }
        return stopFlag
    }

    private func record(_ r: TestResponse) {
        lock.lock()
        defer { lock.unlock() }
        if r.status == 200 {
            ok += 1
            let b = r.header("x-backend") ?? "?"
            byBackend[b, default: 0] += 1
            timeline.append((Date().timeIntervalSince(started), b))
        } else {
            errors.append("status \(r.status): \(String(decoding: r.body.prefix(80), as: UTF8.self))")
        }
    }

    private func note(_ e: String) {
        lock.lock()
        errors.append(e)
        lock.unlock()
    }

    /// Stops and waits for every client (at most 10 s).
    func stop() {
        lock.lock()
        stopFlag = true
        lock.unlock()
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            lock.lock()
            let done = threadsDone == threads
            lock.unlock()
            if done { return }
            usleep(10_000)
        }
    }

    func served(by name: String) -> Int {
        lock.lock()
        defer { lock.unlock() }
        return byBackend[name] ?? 0
    }

    /// Answers (time since start, backend) in order.
    var answers: [(t: Double, backend: String)] {
        lock.lock()
        defer { lock.unlock() }
        return timeline
    }

    var errorList: [String] {
        lock.lock()
        defer { lock.unlock() }
        return errors
    }
}
