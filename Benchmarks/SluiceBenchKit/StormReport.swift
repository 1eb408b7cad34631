import Foundation

/// The figures of a storm run, from its changes (pure: numbers in, numbers out).
public struct StormFigures: Sendable, Equatable {
    /// Changes after the first poll's state and before the surge (storm) or in the whole run
    /// (noise). Must be 0.
    public var baselineChanges: Int
    /// Seconds from the surge's start (the first ramp second) to the first `storm` at or after
    /// it, and to a `rising` on the way there; nil when it did not happen (for rising: the
    /// state went from calm to storm in one step).
    public var toRising: Double?
    public var toStorm: Double?
    /// Seconds from the end of the surge (traffic back at the baseline) to the first step down
    /// from `storm` and to `calm` again after the storm; nil when not within the run.
    public var stormToRisingAfterSurge: Double?
    public var toCalmAfterSurge: Double?

    /// The figures of `changes` (times in seconds from the start of the load) for `plan`.
    public static func of(_ changes: [StormResult.Change], plan: StormPlan) -> StormFigures {
        let real = changes.filter { $0.from != "-" }
        guard plan.mode == .storm else {
            return StormFigures(baselineChanges: real.count)
        }
        let surge = Double(plan.surgeStartSecond)
        let end = Double(plan.surgeEndSecond)
        var f = StormFigures(baselineChanges: real.filter { $0.at < surge }.count)
        let storm = real.first { $0.at >= surge && $0.to == "storm" }
        f.toRising = real.first { $0.at >= surge && $0.to == "rising" && $0.at <= (storm?.at ?? .infinity) }.map { $0.at - surge }
        guard let storm else { return f }
        f.toStorm = storm.at - surge
        let later = real.filter { $0.at > storm.at }
        f.stormToRisingAfterSurge = later.first { $0.from == "storm" }.map { $0.at - end }
        f.toCalmAfterSurge = later.first { $0.to == "calm" }.map { $0.at - end }
        return f
    }
}

/// Prints a storm run as Markdown and writes its seconds and changes as CSV. Any thread.
public enum StormReport {
    static func seconds(_ v: Double?) -> String { v.map { Report.f($0, 1) + " s" } ?? "—" }

    public static func markdown(_ r: StormResult) -> String {
        let f = Report.f
        let plan = r.plan
        let fig = StormFigures.of(r.changes, plan: plan)
        var out = "## sluice-bench --case \(plan.mode.rawValue)\n\n- date: \(r.date)\n- command: `\(r.command)`\n"
        out += "- backends: \(r.backends.count) built-in, \(r.backends.concurrency) at once each, "
        out += "\(r.backends.serviceTimeMillis) ms service time (capacity \(r.backends.capacity)/s); sluice alone, cluster `app`\n"
        out += "- load: open loop, baseline \(plan.baselineRate)/s, each second × (1 + u), u uniform in ±\(f(plan.noise * 100, 0))% "
        out += "(seed \(plan.seed)); phases " + plan.phases.map { "\($0.name) \($0.seconds)s" }.joined(separator: ", ")
        if plan.mode == .storm {
            let ramp = (0..<plan.rampSeconds).map { f(plan.multiple(atSecond: plan.surgeStartSecond + $0), 2) + "×" }
            out += "; ramp " + ramp.joined(separator: ", ") + ", then \(f(plan.factor, 1))×"
        }
        out += "\n- state: `sluice_traffic_state{cluster=\"app\",state=…} 1` polled on the admin /metrics every 100 ms "
        out += "(\(r.polls) polls, \(r.failedPolls) failed\(r.lastPollError.map { ": " + $0 } ?? ""))\n\n"
        out += "| phase | planned/s | offered/s | 2xx/s | not 2xx | errors + timeouts | p50 ms | p99 ms |\n"
        out += "|---|---|---|---|---|---|---|---|\n"
        var t = 0
        for phase in plan.phases {
            var w = Window()
            var planned = 0
            for s in t..<(t + phase.seconds) {
                if s < r.windows.count { w.add(r.windows[s]) }
                if s < r.planned.count { planned += r.planned[s] }
            }
            let n = Double(max(1, phase.seconds))
            out += "| \(phase.name) | \(f(Double(planned) / n, 0)) | \(f(Double(w.offered) / n, 0)) | \(f(Double(w.goodput) / n, 0)) "
            out += "| \(w.answered - w.goodput) | \(w.errors + w.timeouts) | \(f(w.percentileMillis(50), 2)) "
            out += "| \(f(w.percentileMillis(99), 2)) |\n"
            t += phase.seconds
        }
        out += "\n| figure | value |\n|---|---|\n"
        if plan.mode == .storm {
            let direct = fig.toRising == nil && fig.toStorm != nil ? " (calm → storm in one step)" : ""
            out += "| surge start → rising | \(seconds(fig.toRising))\(direct) |\n"
            out += "| surge start → storm | \(seconds(fig.toStorm)) |\n"
            out += "| state changes during the \(plan.baselineSeconds) s baseline | \(fig.baselineChanges) |\n"
            out += "| surge end → storm left (rising) | \(seconds(fig.stormToRisingAfterSurge)) |\n"
            out += "| surge end → calm | \(seconds(fig.toCalmAfterSurge)) |\n"
        } else {
            out += "| state changes in \(plan.baselineSeconds) s of noise (the first 60 s are the detector's warm-up) "
            out += "| \(fig.baselineChanges) |\n"
        }
        out += "\nChanges (seconds from the start of the load; rates from the same poll):\n\n"
        out += "| t s | from | to | rate 10 s | level 10 min |\n|---|---|---|---|---|\n"
        for c in r.changes {
            out += "| \(f(c.at, 1)) | \(c.from) | \(c.to) | \(f(c.rate10s, 0)) | \(f(c.rate10m, 0)) |\n"
        }
        if !r.events.isEmpty {
            out += "\n`GET /history` traffic events:\n\n"
            for e in r.events { out += "- \(f(e.at, 3)) s: \(e.text)\n" }
            // The detector decides once a second: where in the load's second its tick falls
            // moves the storm by up to a second (the ramp's seconds are whole seconds).
            let phase = r.events[0].at - r.events[0].at.rounded(.down)
            out += "\nSluice's tick falls \(f(phase, 3)) s into each second of the load (from the first event).\n"
        }
        return out
    }

    /// `MODE-sluice.csv` (one row per second, with the state at the end of that second) and
    /// `MODE-changes.csv` in `dir`.
    public static func write(_ r: StormResult, csvTo dir: String) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let plan = r.plan
        var rows = ["second,phase,planned,offered,ok_2xx,not_2xx,errors,timeouts,p99_ms,state"]
        var phaseAt: [String] = []
        for p in plan.phases { phaseAt += Array(repeating: p.name, count: p.seconds) }
        for s in 0..<plan.totalSeconds {
            let w = s < r.windows.count ? r.windows[s] : Window()
            let state = r.changes.last { $0.at < Double(s + 1) }?.to ?? ""
            rows.append(
                "\(s),\(phaseAt[s]),\(r.planned[s]),\(w.offered),\(w.goodput),\(w.answered - w.goodput),\(w.errors),\(w.timeouts),"
                    + "\(Report.f(w.percentileMillis(99), 2)),\(state)")
        }
        try (rows.joined(separator: "\n") + "\n").write(
            toFile: "\(dir)/\(plan.mode.rawValue)-sluice.csv", atomically: true, encoding: .utf8)
        var changes = ["t_seconds,from,to,rate_10s,level_10m"]
        for c in r.changes {
            changes.append("\(Report.f(c.at, 3)),\(c.from),\(c.to),\(Report.f(c.rate10s, 1)),\(Report.f(c.rate10m, 1))")
        }
        try (changes.joined(separator: "\n") + "\n").write(
            toFile: "\(dir)/\(plan.mode.rawValue)-changes.csv", atomically: true, encoding: .utf8)
    }
}
