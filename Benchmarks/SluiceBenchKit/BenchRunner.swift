import Foundation
import SluiceBackend
import SluiceSystem

/// One second of a target's run, as reported.
public struct SecondRow: Codable, Sendable {
    public var second: Int
    public var phase: String
    public var offered: Int
    public var throughput: Int
    public var goodput: Int
    public var byClass: [String: Int]
    public var errors: Int
    public var timeouts: Int
    public var p50: Double
    public var p99: Double
    public var p999: Double
}

/// A phase of a target's run, summarized.
public struct PhaseRow: Codable, Sendable {
    public var phase: String
    public var seconds: Int
    public var offeredPerSecond: Double
    public var throughputPerSecond: Double
    public var goodputPerSecond: Double
    public var byClass: [String: Int]
    public var errors: Int
    public var timeouts: Int
    public var p50: Double
    public var p99: Double
    public var p999: Double
    /// The balancer's CPU time (user + system) per request answered in this phase, µs.
    public var cpuMicrosPerRequest: Double?
}

/// Everything measured for one target.
public struct TargetResult: Codable, Sendable {
    public var target: String
    public var skipped: String?
    public var issued: Int
    public var answered: Int
    public var errors: Int
    public var timeouts: Int
    public var seconds: [SecondRow]
    public var phases: [PhaseRow]
    /// Seconds after the spike until p99 is back within 1.5× the baseline p99 (nil: not within the run).
    public var recoverySeconds: Int?
    public var peakRSSKiB: Int?
}

/// A whole run: the scenario and each target's result.
public struct BenchResult: Codable, Sendable {
    public var scenario: Scenario
    public var machine: String
    public var date: String
    public var command: String
    public var results: [TargetResult]
}

/// Runs a scenario against each target in turn with the same backends.
public struct BenchRunner {
    public var scenario: Scenario
    public var targets: [TargetKind]
    public var workers = 1
    public var sluiceBinary: String
    public var log: (String) -> Void = { print($0) }

    public init(scenario: Scenario, targets: [TargetKind], sluiceBinary: String) {
        self.scenario = scenario
        self.targets = targets
        self.sluiceBinary = sluiceBinary
    }

    public func run(command: String) throws -> BenchResult {
        var backends: [DemoBackend] = []
        var addresses = scenario.upstreams
        if addresses.isEmpty {
            for i in 0..<scenario.backends {
                let b = DemoBackend(
                    name: "b\(i + 1)",
                    behavior: BackendBehavior(
                        bodySize: scenario.bodySize, delay: UInt64(scenario.serviceTimeMillis) * 1_000_000,
                        maxConcurrency: scenario.backendConcurrency))
                try b.start()
                backends.append(b)
                addresses.append("127.0.0.1:\(b.port)")
            }
        }
        defer { for b in backends { b.stop() } }
        let work = NSTemporaryDirectory() + "sluice-bench-\(ProcessInfoLite.pid)"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        var results: [TargetResult] = []
        for kind in targets {
            switch try TargetProcess.launch(
                kind, backends: addresses, scenario: scenario, workers: workers, sluiceBinary: sluiceBinary, workDir: work)
            {
            case .failure(let why):
                log("\(kind.rawValue): skipped: \(why.message)")
                results.append(
                    TargetResult(
                        target: kind.rawValue, skipped: why.message, issued: 0, answered: 0, errors: 0, timeouts: 0, seconds: [],
                        phases: [], recoverySeconds: nil, peakRSSKiB: nil))
            case .success(let target):
                defer { target.stop() }
                log("\(kind.rawValue): \(scenario.totalSeconds)s on 127.0.0.1:\(target.port)")
                results.append(try measure(target))
            }
        }
        var uts = utsname()
        uname(&uts)
        let machine = withUnsafeBytes(of: uts.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let cpus = ProcessInfoLite.cpuCount()
        let mem = ProcessInfo.processInfo.physicalMemory >> 30
        return BenchResult(
            scenario: scenario, machine: "\(machine), \(cpus) CPUs, \(mem) GiB", date: ISO8601DateFormatter().string(from: Date()),
            command: command, results: results)
    }

    func measure(_ target: TargetProcess) throws -> TargetResult {
        let gen = try LoadGenerator(scenario: scenario, target: try SocketAddress.resolve("127.0.0.1:\(target.port)"))
        var cpuAtSecond: [Int: Double] = [0: target.cpuSeconds()]
        let windows = gen.run { s in
            cpuAtSecond[s + 1] = target.cpuSeconds()
        }
        cpuAtSecond[scenario.totalSeconds] = cpuAtSecond[scenario.totalSeconds] ?? target.cpuSeconds()
        let rss = target.peakRSSKiB()
        return Self.summarize(
            target.kind.rawValue, scenario: scenario, windows: windows, issued: gen.issued, cpuAtSecond: cpuAtSecond, rss: rss)
    }

    static let classNames = ["1xx", "2xx", "3xx", "4xx", "5xx"]

    static func classes(_ w: Window) -> [String: Int] {
        var d: [String: Int] = [:]
        for (i, n) in w.byClass.enumerated() where n > 0 { d[classNames[i]] = n }
        return d
    }

    /// Turns per-second windows into the report's rows, phases and recovery time.
    public static func summarize(
        _ name: String, scenario: Scenario, windows: [Window], issued: Int, cpuAtSecond: [Int: Double], rss: Int?
    ) -> TargetResult {
        var rows: [SecondRow] = []
        for (s, w) in windows.enumerated() where s < scenario.totalSeconds || w.ended > 0 {
            rows.append(
                SecondRow(
                    second: s, phase: scenario.phase(atSecond: s)?.name ?? "drain", offered: w.offered, throughput: w.answered,
                    goodput: w.goodput, byClass: classes(w), errors: w.errors, timeouts: w.timeouts, p50: w.percentileMillis(50),
                    p99: w.percentileMillis(99), p999: w.percentileMillis(99.9)))
        }
        var phases: [PhaseRow] = []
        var t = 0
        var baselineP99 = 0.0
        var recovery: Int? = nil
        for p in scenario.phases {
            var w = Window()
            for s in t..<(t + p.seconds) where s < windows.count { w.add(windows[s]) }
            var cpu: Double? = nil
            if let a = cpuAtSecond[t], let b = cpuAtSecond[t + p.seconds], w.answered > 0 {
                cpu = (b - a) / Double(w.answered) * 1e6
            }
            let d = Double(p.seconds)
            phases.append(
                PhaseRow(
                    phase: p.name, seconds: p.seconds, offeredPerSecond: Double(w.offered) / d, throughputPerSecond: Double(w.answered) / d,
                    goodputPerSecond: Double(w.goodput) / d, byClass: classes(w), errors: w.errors, timeouts: w.timeouts,
                    p50: w.percentileMillis(50), p99: w.percentileMillis(99), p999: w.percentileMillis(99.9), cpuMicrosPerRequest: cpu))
            if p.name == "baseline" { baselineP99 = w.percentileMillis(99) }
            if p.name == "recovery" && baselineP99 > 0 {
                for s in t..<(t + p.seconds) where s < windows.count {
                    let p99 = windows[s].percentileMillis(99)
                    if windows[s].answered > 0 && p99 <= 1.5 * baselineP99 {
                        recovery = s - t
                        break
                    }
                }
            }
            t += p.seconds
        }
        let total = windows.reduce(into: Window()) { $0.add($1) }
        return TargetResult(
            target: name, skipped: nil, issued: issued, answered: total.answered, errors: total.errors, timeouts: total.timeouts,
            seconds: rows, phases: phases, recoverySeconds: recovery, peakRSSKiB: rss)
    }
}
