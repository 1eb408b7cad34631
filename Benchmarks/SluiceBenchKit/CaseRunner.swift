import Foundation
import SluiceBackend
import SluiceSystem

/// A whole case run: the plan and each target's result.
public struct CaseResult: Sendable, Codable {
    public var plan: CasePlan
    public var date: String
    public var command: String
    public var results: [CaseTargetResult]
}

/// Runs one case plan against each target in turn, each with fresh built-in backends in this
/// process (so a scheduled slowdown starts from the same service time for every target).
/// Calling thread; a run takes the plan's seconds plus the timeout per target.
public struct CaseRunner {
    public var plan: CasePlan
    public var targets: [TargetKind]
    public var workers = 1
    public var sluiceBinary: String
    public var log: (String) -> Void = { print($0) }

    public init(plan: CasePlan, targets: [TargetKind], sluiceBinary: String) {
        self.plan = plan
        self.targets = targets
        self.sluiceBinary = sluiceBinary
    }

    public func run(command: String) throws -> CaseResult {
        let work = NSTemporaryDirectory() + "sluice-bench-\(ProcessInfoLite.pid)-\(plan.benchCase.rawValue)"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        var results: [CaseTargetResult] = []
        for kind in targets {
            let p = plan.parameters
            var backends: [DemoBackend] = []
            var addresses: [String] = []
            for i in 0..<p.backends {
                let b = DemoBackend(
                    name: "b\(i + 1)",
                    behavior: BackendBehavior(
                        bodySize: p.bodySize, delay: UInt64(p.serviceTimeMillis) * 1_000_000, maxConcurrency: p.backendConcurrency,
                        maxAge: plan.cache?.maxAge))
                try b.start()
                backends.append(b)
                addresses.append("127.0.0.1:\(b.port)")
            }
            defer { for b in backends { b.stop() } }
            switch try TargetProcess.launch(
                kind, config: CaseConfigs.Input(plan: plan), backends: addresses, workers: workers, sluiceBinary: sluiceBinary,
                workDir: work)
            {
            case .failure(let why):
                log("\(plan.benchCase.rawValue) \(kind.rawValue): skipped: \(why.message)")
                results.append(CaseTargetResult(target: kind.rawValue, skipped: why.message))
            case .success(let target):
                defer { target.stop() }
                log("\(plan.benchCase.rawValue) \(kind.rawValue): \(plan.totalSeconds)s on 127.0.0.1:\(target.port)")
                results.append(try measure(target, backends: backends))
            }
        }
        return CaseResult(
            plan: plan, date: ISO8601DateFormatter().string(from: Date()), command: command, results: results)
    }

    /// Runs the load; applies the plan's backend changes when their second starts (stopping
    /// or restarting the in-process backends too); counts the requests the backends received
    /// in each second.
    func measure(_ target: TargetProcess, backends: [DemoBackend]) throws -> CaseTargetResult {
        let gen = try LoadGenerator(plan: plan, target: try SocketAddress.resolve("127.0.0.1:\(target.port)"))
        let changes = plan.changes
        var received: [Int] = []
        var notModified: [Int] = []
        var last = (requests: 0, notModified: 0)
        let log = self.log
        _ = gen.run { completed in
            // `completed` has just ended: second completed + 1 starts now.
            let now = (
                requests: backends.reduce(0) { $0 + $1.ordinaryRequests }, notModified: backends.reduce(0) { $0 + $1.notModifiedAnswers }
            )
            while received.count <= completed {
                received.append(now.requests - last.requests)
                notModified.append(now.notModified - last.notModified)
                last = (requests: now.requests, notModified: now.notModified)
            }
            for c in changes where c.atSecond == completed + 1 {
                for b in backends {
                    b.behavior.delay = UInt64(c.serviceTimeMillis) * 1_000_000
                    if c.running == false { b.stop() }
                    if c.running == true {
                        do { try b.start() } catch { log("backend \(b.name) did not start again: \(error)") }
                    }
                }
            }
        }
        var r = CaseSummary.summarize(target.kind.rawValue, plan: plan, groupWindows: gen.groupWindows, issued: gen.issued)
        if plan.cache != nil {
            CaseSummary.addCacheFigures(
                &r, plan: plan, groupWindows: gen.groupWindows, backendRequests: received, notModified: notModified)
        }
        return r
    }
}
