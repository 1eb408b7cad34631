import Foundation
import SluiceBackend
import SluiceSystem

/// What a storm run saw: the load second by second, and the traffic state's changes with
/// their times in seconds from the start of the load.
public struct StormResult: Sendable {
    public struct Change: Sendable, Codable, Equatable {
        /// Seconds from the start of the load to the end of the poll that saw it.
        public var at: Double
        public var from: String
        public var to: String
        public var rate10s: Double
        public var rate10m: Double
    }

    public var plan: StormPlan
    public var backends: StormBackends
    public var date: String
    public var command: String
    /// Planned rate, and what the load generator measured, per second.
    public var planned: [Int]
    public var windows: [Window]
    /// Every change, the first poll's state (from "-") included.
    public var changes: [Change]
    public var polls: Int
    public var failedPolls: Int
    public var lastPollError: String?
    /// The `kind: traffic` events of `GET /history` after the run: seconds from the start of
    /// the load and text.
    public var events: [(at: Double, text: String)]
}

/// The built-in backends of a storm run: far more capacity than the surge needs.
public struct StormBackends: Sendable, Codable, Equatable {
    public var count = 2
    public var concurrency = 64
    public var serviceTimeMillis = 5
    public var bodySize = 512

    public init() {}

    public var capacity: Int { count * concurrency * 1000 / max(1, serviceTimeMillis) }
}

/// Runs a storm plan against Sluice alone: built-in backends in this process, Sluice with a
/// known admin port, the open-loop load on the calling thread and the `/metrics` poller on
/// its own. A run takes the plan's seconds plus a few.
public struct StormRunner {
    public var plan: StormPlan
    public var backends = StormBackends()
    public var connections = 256
    public var timeoutMillis = 3000
    public var workers = 1
    public var pollMillis = 100
    /// Milliseconds to wait between Sluice listening and the load's start: shifts Sluice's
    /// once-a-second tick against the load's seconds (the tick phase the report shows).
    public var startDelayMillis = 0
    public var sluiceBinary: String
    public var log: (String) -> Void = { print($0) }

    public init(plan: StormPlan, sluiceBinary: String) {
        self.plan = plan
        self.sluiceBinary = sluiceBinary
    }

    /// The config Sluice gets: one listener, cluster `app`, the admin listener on `adminPort`.
    public static func config(port: Int, adminPort: Int, backends: [String], perBackend: Int, workers: Int) -> String {
        let list = backends.enumerated().map { "      - { name: b\($0.offset + 1), address: \($0.element) }" }
        return """
            workers: \(workers)
            admin: { listen: 127.0.0.1:\(adminPort) }
            access_log: { path: off }
            limits: { max_connections: 9000 }
            timeouts: { client_idle: 75s }
            listeners:
              - name: web
                listen: 127.0.0.1:\(port)
                routes:
                  - { match: { path_prefix: / }, cluster: app }
            clusters:
              - name: app
                backends:
            \(list.joined(separator: "\n"))
                limits: { max_requests_per_backend: \(perBackend), max_queue: 1024, queue_timeout: 1s }

            """
    }

    public func run(command: String) throws -> StormResult {
        let work = NSTemporaryDirectory() + "sluice-bench-\(ProcessInfoLite.pid)-\(plan.mode.rawValue)"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer {
            do { try FileManager.default.removeItem(atPath: work) } catch { log("could not remove \(work): \(error)") }
        }
        var started: [DemoBackend] = []
        for i in 0..<backends.count {
            let b = DemoBackend(
                name: "b\(i + 1)",
                behavior: BackendBehavior(
                    bodySize: backends.bodySize, delay: UInt64(backends.serviceTimeMillis) * 1_000_000,
                    maxConcurrency: backends.concurrency))
            try b.start()
            started.append(b)
        }
        defer { for b in started { b.stop() } }
        guard FileManager.default.isExecutableFile(atPath: sluiceBinary) else {
            throw SkipReason(message: "sluice binary not found at \(sluiceBinary) (swift build -c release --product sluice)")
        }
        let port = try TargetProcess.freePort()
        let adminPort = try TargetProcess.freePort()
        let path = work + "/sluice-\(plan.mode.rawValue).yaml"
        try Self.config(
            port: port, adminPort: adminPort, backends: started.map { "127.0.0.1:\($0.port)" }, perBackend: backends.concurrency,
            workers: workers
        ).write(toFile: path, atomically: true, encoding: .utf8)
        let p = Process()
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        p.executableURL = URL(fileURLWithPath: sluiceBinary)
        p.arguments = ["run", "--config", path]
        let target: TargetProcess
        switch try TargetProcess.spawn(.sluice, process: p, port: port) {
        case .failure(let why): throw why
        case .success(let t): target = t
        }
        defer { target.stop() }
        log("\(plan.mode.rawValue) sluice: \(plan.totalSeconds)s on 127.0.0.1:\(port), admin 127.0.0.1:\(adminPort)")

        let rates = plan.rates
        let stream = LoadStream(group: "all", path: "/products/item", connections: connections, rates: [])
        let gen = try LoadGenerator(
            streams: [LoadGenerator.Stream(request: stream.request, group: 0, connections: connections, rates: rates)],
            groups: ["all"], seconds: plan.totalSeconds, timeoutMillis: timeoutMillis, closedLoop: false,
            target: try SocketAddress.resolve("127.0.0.1:\(port)"))
        let poller = TrafficStatePoller(adminPort: adminPort, cluster: "app", intervalMillis: pollMillis)
        poller.start()
        if startDelayMillis > 0 { usleep(UInt32(startDelayMillis) * 1000) }
        let wallBefore = Date().timeIntervalSince1970
        let monoBefore = Clock.monotonicNanos()
        let windows = gen.run { second in
            if (second + 1) % 30 == 0 { log("\(plan.mode.rawValue): \(second + 1) s of \(plan.totalSeconds)") }
        }
        let seen = poller.stop()
        let start = gen.start
        let wallStart = wallBefore + Double(start &- monoBefore) / 1e9
        let changes = seen.changes.map { c in
            StormResult.Change(
                at: Double(Int64(bitPattern: c.atNanos &- start)) / 1e9, from: c.from, to: c.to, rate10s: c.rate10s, rate10m: c.rate10m)
        }
        var events: [(at: Double, text: String)] = []
        do {
            events = try Self.trafficEvents(adminPort: adminPort).map { (at: $0.t - wallStart, text: $0.text) }
        } catch {
            log("GET /history failed: \(error)")
        }
        return StormResult(
            plan: plan, backends: backends, date: ISO8601DateFormatter().string(from: Date()), command: command, planned: rates,
            windows: windows, changes: changes, polls: seen.polls, failedPolls: seen.failures, lastPollError: seen.lastError,
            events: events)
    }

    /// The `kind: "traffic"` events of the last 15 minutes (`t` in Unix seconds).
    static func trafficEvents(adminPort: Int) throws -> [(t: Double, text: String)] {
        let body = try TrafficStatePoller.get("/history?seconds=900", port: adminPort)
        let json = try JSONSerialization.jsonObject(with: Data(body.utf8))
        guard let events = (json as? [String: Any])?["events"] as? [[String: Any]] else { return [] }
        return events.compactMap { e in
            guard e["kind"] as? String == "traffic", let t = e["t"] as? Double else { return nil }
            return (t: t, text: e["text"] as? String ?? "")
        }
    }
}
