import ArgumentParser
import Foundation
import SluiceBenchKit
import SluiceSystem

/// `sluice-bench`: how much can the front door take, how does it behave when a flash sale hits,
/// and how does it compare with HAProxy and nginx — in one command.
@main
struct SluiceBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sluice-bench",
        abstract: "Throughput and latency under spike load on 127.0.0.1, side by side with HAProxy and nginx.",
        discussion: """
            With no arguments: the default spike scenario against Sluice (the release binary, with a
            generated config) in front of three built-in backends whose capacity the spike exceeds.
            Profile: warm-up, baseline, a spike of --spike-factor x baseline, baseline again (recovery).
            Reports per second and per phase: offered rate, throughput, goodput (2xx), answers by status
            class, errors and timeouts, p50/p99/p99.9 latency, recovery time, the balancer's CPU time
            per request and peak RSS. Writes report.md, report.json and chart.svg to --results.

            --case runs the issue-8 cases instead (flash-sale, mix, slowdown, abuser, or all;
            docs/benchmarks.md §7), or the issue-9 cache case hot-page (§8: 10x capacity on 20
            cacheable URLs, then the backends stopped for a while; hits, backend requests per 5 s): per phase offered/s, goodput, critical goodput, p50/p99 of
            successes, how the rejected ended (503/429 with and without Retry-After, other
            statuses, timeouts, requests never sent, connection errors), recovery time and the
            Retry-After values received; a per-second table, and CSV with --csv DIR.

            --case storm (issue 10, §9; Sluice alone): --storm-rate/s with seeded ±10% noise per second
            for 90 s (the detector's 60 s warm-up and 30 s of learning), a ramp to --spike-factor x over
            3 s held 20 s, then 40 s of baseline; the admin /metrics is polled every 100 ms for the
            traffic state. Reports the seconds from the surge's start to rising and to storm, the
            changes during the baseline, and the time back to calm. --case storm-noise: the noise alone
            for --duration seconds (default 300); the number of changes.
            """)

    @Option(help: "Targets to run in turn: sluice, haproxy, nginx.")
    var target: String = "sluice"

    @Option(help: "Run several targets in one run and print the ratios (e.g. sluice,haproxy,nginx); overrides --target.")
    var compare: String?

    @Option(help: "Baseline offered rate, requests per second.")
    var rate: Int = 1000

    @Option(help: "The spike offers rate x this.")
    var spikeFactor: Double = 5

    @Option(help: "Seconds of warm-up (not summarized as baseline).")
    var warmup: Int = 2

    @Option(help: "Seconds of baseline.")
    var baseline: Int = 5

    @Option(help: "Seconds of spike.")
    var spike: Int = 5

    @Option(help: "Seconds of baseline after the spike.")
    var recovery: Int = 8

    @Option(help: "Keep-alive client connections.")
    var connections: Int = 1000

    @Flag(help: "Closed loop (maximum throughput: each connection sends again when answered) instead of open loop.")
    var closedLoop = false

    @Option(help: "A request unanswered after this many milliseconds is a timeout.")
    var timeoutMs: Int = 3000

    @Option(help: "Request path.")
    var path: String = "/"

    @Option(help: "Built-in backends (default 3; 2 with --case).")
    var backends: Int?

    @Option(help: "Requests each built-in backend serves at once (more get 503); the balancers get the same limit.")
    var backendConcurrency: Int = 8

    @Option(help: "Service time of each built-in backend request, ms (default 10; 20 with --case).")
    var serviceMs: Int?

    @Option(help: "Response body size of the built-in backends, bytes.")
    var bodySize: Int = 512

    @Option(help: "Use a real backend instead of the built-in ones (http://host:port, repeatable).")
    var upstream: [String] = []

    @Option(help: "Worker threads/processes for each balancer.")
    var workers: Int = 1

    @Option(help: "The sluice binary (default: .build/release/sluice next to this program).")
    var sluiceBinary: String?

    @Option(help: "Folder for report.md, report.json and chart.svg.")
    var results: String = "results/latest"

    @Option(
        name: .customLong("case"),
        help:
            "Run cases instead of the spike scenario: flash-sale, mix, slowdown, abuser, hot-page, all, storm, storm-noise (comma-separated)."
    )
    var cases: String?

    @Option(help: "With --case: write CASE-TARGET.csv (one row per second) and CASE.json into this folder.")
    var csv: String?

    @Flag(help: "With --case: print the config each target would get (backends on ports 9001, 9002, ...) and exit.")
    var printConfigs = false

    @Option(help: "With --case: the baseline as a share of the backends' capacity.")
    var baselineShare: Double = 0.5

    @Option(help: "With --case hot-page: seconds per target (warm-up, hot, backends down, back in 3 : 3 : 1; default 72).")
    var duration: Int?

    @Option(help: "With --case storm / storm-noise: the baseline rate, requests per second.")
    var stormRate: Int = 400

    @Option(help: "With --case storm / storm-noise: the seed of the per-second noise.")
    var seed: UInt64 = 1

    @Option(help: "With --case storm / storm-noise: milliseconds between Sluice listening and the load's start.")
    var startDelayMs: Int = 0

    func run() throws {
        if let cases {
            try runCases(cases)
            return
        }
        var s = Scenario()
        s.rate = rate
        s.spikeFactor = spikeFactor
        s.warmupSeconds = warmup
        s.baselineSeconds = baseline
        s.spikeSeconds = spike
        s.recoverySeconds = recovery
        s.connections = connections
        s.closedLoop = closedLoop
        s.timeoutMillis = timeoutMs
        s.path = path
        s.backends = backends ?? 3
        s.backendConcurrency = backendConcurrency
        s.serviceTimeMillis = serviceMs ?? 10
        s.bodySize = bodySize
        s.upstreams = try upstream.map { u in
            let hostPort = u.hasPrefix("http://") ? String(u.dropFirst(7)).split(separator: "/").first.map(String.init) ?? "" : u
            _ = try SocketAddress.resolve(hostPort)
            return hostPort
        }
        let kinds = try targetKinds()
        var runner = BenchRunner(scenario: s, targets: kinds, sluiceBinary: binary)
        runner.workers = workers
        runner.log = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
        let command = (["sluice-bench"] + CommandLine.arguments.dropFirst()).joined(separator: " ")
        let result = try runner.run(command: command)
        try Report.write(result, to: results)
        print(Report.markdown(result))
        FileHandle.standardError.write(Data("written: \(results)/report.md, report.json, chart.svg\n".utf8))
    }

    var binary: String {
        let here = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        return sluiceBinary ?? here.appendingPathComponent("sluice").path
    }

    func targetKinds() throws -> [TargetKind] {
        try (compare ?? target).split(separator: ",").map { name in
            guard let k = TargetKind(rawValue: String(name)) else {
                throw ValidationError("unknown target \(name): use sluice, haproxy or nginx")
            }
            return k
        }
    }

    /// `--case`: each named case against each target, printed as Markdown (and CSV on request).
    func runCases(_ list: String) throws {
        let names = list == "all" ? BenchCase.allCases.map(\.rawValue) : list.split(separator: ",").map(String.init)
        var p = CaseParameters()
        p.backends = backends ?? 2
        p.backendConcurrency = backendConcurrency
        p.serviceTimeMillis = serviceMs ?? 20
        p.bodySize = bodySize
        p.connections = connections
        p.timeoutMillis = timeoutMs
        p.baselineShare = baselineShare
        p.warmupSeconds = warmup
        p.durationSeconds = duration
        let kinds = try targetKinds()
        let command = (["sluice-bench"] + CommandLine.arguments.dropFirst()).joined(separator: " ")
        for name in names {
            if let mode = StormPlan.Mode(rawValue: name) {
                try runStorm(mode, command: command)
                continue
            }
            guard let c = BenchCase(rawValue: name) else {
                throw ValidationError("unknown case \(name): use flash-sale, mix, slowdown, abuser, hot-page, all, storm or storm-noise")
            }
            let plan = CasePlan.make(c, p)
            if printConfigs {
                let addresses = (0..<p.backends).map { "127.0.0.1:\(9001 + $0)" }
                for k in kinds {
                    print("# \(c.rawValue): \(k.rawValue)")
                    switch k {
                    case .sluice:
                        print(CaseConfigs.sluice(CaseConfigs.Input(plan: plan), port: 8080, backends: addresses, workers: workers))
                    case .haproxy:
                        print(CaseConfigs.haproxy(CaseConfigs.Input(plan: plan), port: 8080, backends: addresses, workers: workers))
                    case .nginx:
                        print(
                            CaseConfigs.nginx(
                                CaseConfigs.Input(plan: plan), port: 8080, backends: addresses, workers: workers,
                                workDir: "/tmp/sluice-bench"))
                    }
                }
                continue
            }
            var runner = CaseRunner(plan: plan, targets: kinds, sluiceBinary: binary)
            runner.workers = workers
            runner.log = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
            let result = try runner.run(command: command)
            print(CaseReport.markdown(result))
            if let csv {
                try CaseReport.write(result, csvTo: csv)
                FileHandle.standardError.write(Data("written: \(csv)/\(c.rawValue)-*.csv, \(c.rawValue).json\n".utf8))
            }
        }
    }
}

/// `--case storm` and `--case storm-noise`: Sluice's traffic state under a surge and under
/// baseline noise (docs/benchmarks.md §9).
extension SluiceBench {
    func runStorm(_ mode: StormPlan.Mode, command: String) throws {
        var plan = StormPlan(mode: mode)
        plan.baselineRate = stormRate
        plan.factor = spikeFactor
        plan.seed = seed
        if mode == .noise, let duration { plan.baselineSeconds = duration }
        var b = StormBackends()
        if let backends { b.count = backends }
        if let serviceMs { b.serviceTimeMillis = serviceMs }
        b.bodySize = bodySize
        let peak = Int((Double(plan.baselineRate) * plan.factor * (1 + plan.noise)).rounded(.up))
        guard b.capacity >= 2 * peak else {
            throw ValidationError("the backends' capacity \(b.capacity)/s is under twice the peak \(peak)/s: nothing may be shed here")
        }
        var runner = StormRunner(plan: plan, sluiceBinary: binary)
        runner.backends = b
        runner.connections = connections
        runner.timeoutMillis = timeoutMs
        runner.workers = workers
        runner.startDelayMillis = max(0, startDelayMs)
        runner.log = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
        let result = try runner.run(command: command)
        print(StormReport.markdown(result))
        if let csv {
            try StormReport.write(result, csvTo: csv)
            FileHandle.standardError.write(Data("written: \(csv)/\(mode.rawValue)-sluice.csv, \(mode.rawValue)-changes.csv\n".utf8))
        }
    }
}
