import Foundation

/// Prints a case run as Markdown and writes its per-second table as CSV. Pure formatting;
/// any thread.
public enum CaseReport {
    static let outcomeColumns = Outcome.allCases.map(\.label)

    static func describe(_ plan: CasePlan) -> String {
        let p = plan.parameters
        var out = "- backends: \(p.backends) built-in, \(p.backendConcurrency) at once each, \(p.serviceTimeMillis) ms service time "
        out += "(capacity \(p.capacity)/s; past \(p.backendConcurrency) at once they answer 503 themselves)\n"
        out += "- load: open loop, latency from the intended send time, timeout \(p.timeoutMillis) ms; "
        out += "phases " + plan.phases.map { "\($0.name) \($0.seconds)s @\(phaseRate(plan, $0))/s" }.joined(separator: ", ") + "\n"
        out +=
            "- clients: "
            + plan.groups.map { g in
                let s = plan.streams.filter { $0.group == g }
                let paths = Set(s.map(\.path)).count
                let path = paths > 1 ? "\(s[0].path) … \(s[s.count - 1].path) (\(paths) paths)" : s[0].path
                return "\(g): \(s.count) × \(path) (\(s.reduce(0) { $0 + $1.connections }) connections)"
            }.joined(separator: "; ") + "\n"
        for c in plan.changes where c.running == nil {
            out += "- at \(c.atSecond) s the backends' service time becomes \(c.serviceTimeMillis) ms\n"
        }
        if plan.adaptive { out += "- sluice: `limits.adaptive: true`\n" }
        if let r = plan.rateLimitPerClient { out += "- per-client limit: \(r)/s, burst \(plan.rateLimitBurst ?? 0), key X-Client-Id\n" }
        if let c = plan.cache { out += describe(c, plan) }
        return out
    }

    static func phaseRate(_ plan: CasePlan, _ phase: CasePhase) -> Int {
        guard let i = plan.phases.firstIndex(of: phase) else { return 0 }
        return plan.totalRate(second: plan.startSecond(ofPhase: i))
    }

    static func outcomeCells(_ o: [Int]) -> String {
        Outcome.allCases.map { String(o.indices.contains($0.rawValue) ? o[$0.rawValue] : 0) }.joined(separator: " | ")
    }

    public static func markdown(_ r: CaseResult) -> String {
        let f = Report.f
        var out = "## sluice-bench --case \(r.plan.benchCase.rawValue)\n\n- date: \(r.date)\n- command: `\(r.command)`\n"
        out += describe(r.plan) + "\n"
        if r.plan.cache != nil { out += cacheTable(r) }
        let critical = r.plan.criticalGroup != nil
        let protected = r.plan.protectedGroup != nil
        for t in r.results {
            out += "### \(r.plan.benchCase.rawValue): \(t.target)\n\n"
            if let why = t.skipped {
                out += "Skipped: \(why)\n\n"
                continue
            }
            var head = "| phase | offered/s | goodput/s |"
            if critical { head += " critical 2xx/s | critical served |" }
            if protected { head += " \(r.plan.protectedGroup!) p99 ms |" }
            head += " p50 ms | p99 ms | " + outcomeColumns.joined(separator: " | ") + " |\n"
            out += head + "|" + String(repeating: "---|", count: head.filter { $0 == "|" }.count - 1) + "\n"
            for p in t.phases {
                out += "| \(p.phase) | \(f(p.offeredPerSecond, 0)) | \(f(p.goodputPerSecond, 0)) |"
                if critical {
                    out += " \(f(p.criticalGoodputPerSecond, 0)) | \(p.criticalServedShare.map { f($0 * 100, 1) + "%" } ?? "–") |"
                }
                if protected { out += " \(f(p.protectedP99 ?? 0, 2)) |" }
                out += " \(f(p.p50, 2)) | \(f(p.p99, 2)) | \(outcomeCells(p.outcomes)) |\n"
            }
            out += "\n"
            for rec in t.recovery {
                out += "- recovery after \(rec.after): \(rec.seconds.map { "\($0) s" } ?? "not within the run") (\(rec.rule))\n"
            }
            out += "- Retry-After received, whole run: \(CaseSummary.describe(t.retryAfter))\n"
            for p in t.phases where r.plan.phases.first(where: { $0.name == p.phase })?.isSpike == true {
                out += "- Retry-After during \(p.phase): \(CaseSummary.describe(p.retryAfter))\n"
            }
            out += "- issued \(t.issued); ended: " + zip(outcomeColumns, t.outcomes).map { "\($0) \($1)" }.joined(separator: ", ") + "\n\n"
            out += "<details><summary>per second</summary>\n\n" + secondsTable(t, critical: critical) + "\n</details>\n\n"
        }
        return out
    }

    /// The per-second table: offered, goodput, rejected, p99 (and critical goodput for the mix).
    public static func secondsTable(_ t: CaseTargetResult, critical: Bool) -> String {
        var out = "| s | phase | offered | goodput |" + (critical ? " critical 2xx |" : "") + " rejected | p99 ms |\n"
        out += critical ? "|---|---|---|---|---|---|---|\n" : "|---|---|---|---|---|---|\n"
        for s in t.seconds {
            out += "| \(s.second) | \(s.phase) | \(s.offered) | \(s.goodput) |" + (critical ? " \(s.criticalGoodput) |" : "")
            out += " \(s.rejected) | \(Report.f(s.p99, 2)) |\n"
        }
        return out
    }

    /// One CSV row per second: second, phase, offered, goodput, critical_goodput, rejected,
    /// p50_ms, p99_ms, one column per outcome, then hits, hit_p99_ms, backend_requests and
    /// backend_304 (0 outside the cache case).
    public static func csv(_ t: CaseTargetResult) -> String {
        var out = "second,phase,offered,goodput,critical_goodput,rejected,p50_ms,p99_ms,"
        out +=
            Outcome.allCases.map { "n_" + $0.label.replacingOccurrences(of: "+", with: "_").replacingOccurrences(of: "-", with: "_") }
            .joined(separator: ",") + ",hits,hit_p99_ms,backend_requests,backend_304\n"
        for s in t.seconds {
            out += "\(s.second),\(s.phase),\(s.offered),\(s.goodput),\(s.criticalGoodput),\(s.rejected),"
            out += "\(Report.f(s.p50, 3)),\(Report.f(s.p99, 3)),\(s.outcomes.map(String.init).joined(separator: ","))"
            out += ",\(s.hits),\(Report.f(s.hitP99, 3)),\(s.backendRequests),\(s.backendNotModified)\n"
        }
        return out
    }

    /// Writes CASE-TARGET.csv for every target that ran, and CASE.json, into `dir`.
    public static func write(_ r: CaseResult, csvTo dir: String) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for t in r.results where t.skipped == nil {
            try csv(t).write(toFile: "\(dir)/\(r.plan.benchCase.rawValue)-\(t.target).csv", atomically: true, encoding: .utf8)
        }
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        try e.encode(r).write(to: URL(fileURLWithPath: "\(dir)/\(r.plan.benchCase.rawValue).json"))
    }
}
