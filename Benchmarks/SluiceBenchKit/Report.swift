import Foundation

/// Writes a run as Markdown, JSON and an SVG chart.
public enum Report {
    static func f(_ v: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", v) }

    public static func markdown(_ r: BenchResult) -> String {
        let s = r.scenario
        var out = "# sluice-bench: spike scenario\n\n"
        out += "- date: \(r.date); machine: \(r.machine)\n- command: `\(r.command)`\n"
        out +=
            "- load: \(s.closedLoop ? "closed loop" : "open loop (latency from intended send time)"), \(s.connections) keep-alive connections, "
        out += "baseline \(s.rate)/s, spike ×\(f(s.spikeFactor)) = \(Int(Double(s.rate) * s.spikeFactor))/s; phases "
        out += s.phases.map { "\($0.name) \($0.seconds)s" }.joined(separator: ", ") + "\n"
        if s.upstreams.isEmpty {
            out +=
                "- backends: \(s.backends) built-in, \(s.backendConcurrency) requests at once each, \(s.serviceTimeMillis) ms service time, "
            out += "\(s.bodySize) B bodies: capacity ≈ \(s.backendCapacity)/s\n"
        } else {
            out += "- backends: \(s.upstreams.joined(separator: ", "))\n"
        }
        out += "\n"
        for t in r.results {
            out += "## \(t.target)\n\n"
            if let why = t.skipped {
                out += "Skipped: \(why)\n\n"
                continue
            }
            out +=
                "| phase | offered/s | throughput/s | goodput/s | answers | errors | timeouts | p50 ms | p99 ms | p99.9 ms | CPU µs/req |\n"
            out += "|---|---|---|---|---|---|---|---|---|---|---|\n"
            for p in t.phases {
                let classes = p.byClass.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ")
                out +=
                    "| \(p.phase) | \(f(p.offeredPerSecond, 0)) | \(f(p.throughputPerSecond, 0)) | \(f(p.goodputPerSecond, 0)) | \(classes) | "
                out +=
                    "\(p.errors) | \(p.timeouts) | \(f(p.p50, 2)) | \(f(p.p99, 2)) | \(f(p.p999, 2)) | \(p.cpuMicrosPerRequest.map { f($0) } ?? "–") |\n"
            }
            out += "\nIssued \(t.issued) = answered \(t.answered) + errors \(t.errors) + timeouts \(t.timeouts). "
            out += "Recovery after the spike: \(t.recoverySeconds.map { "\($0) s" } ?? "not within the run"). "
            out += "Peak RSS: \(t.peakRSSKiB.map { "\($0 / 1024) MiB" } ?? "–").\n\n"
        }
        let ran = r.results.filter { $0.skipped == nil }
        if ran.count > 1, let base = ran.first {
            out += "## Side by side (ratios to \(base.target))\n\n"
            out +=
                "| target | spike goodput/s | spike p99 ms | baseline p99 ms | baseline CPU µs/req | recovery s | goodput ratio | CPU ratio |\n"
            out += "|---|---|---|---|---|---|---|---|\n"
            func phase(_ t: TargetResult, _ n: String) -> PhaseRow? { t.phases.first { $0.phase == n } }
            for t in ran {
                let sp = phase(t, "spike")
                let bl = phase(t, "baseline")
                let bsp = phase(base, "spike")
                let bbl = phase(base, "baseline")
                let gr = (sp?.goodputPerSecond ?? 0) / max(bsp?.goodputPerSecond ?? 1, 1e-9)
                let cr = (bl?.cpuMicrosPerRequest ?? 0) / max(bbl?.cpuMicrosPerRequest ?? 1, 1e-9)
                out += "| \(t.target) | \(f(sp?.goodputPerSecond ?? 0, 0)) | \(f(sp?.p99 ?? 0, 2)) | \(f(bl?.p99 ?? 0, 2)) | "
                out +=
                    "\(bl?.cpuMicrosPerRequest.map { f($0) } ?? "–") | \(t.recoverySeconds.map(String.init) ?? "–") | \(f(gr, 2)) | \(f(cr, 2)) |\n"
            }
            out += "\n"
        }
        out += "![throughput and p99 over time](chart.svg)\n"
        return out
    }

    public static func json(_ r: BenchResult) throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try e.encode(r)
    }

    /// Two panels (throughput/s and p99 ms per second), one line per target.
    public static func svg(_ r: BenchResult) -> String {
        let colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]
        let dashes = ["", "8 4", "2 3", "12 3 2 3"]
        let ran = r.results.filter { $0.skipped == nil }
        let width = 900.0
        let panel = 220.0
        let left = 70.0
        let right = 20.0
        let top = 40.0
        let gap = 60.0
        let maxSecond = Double(max(1, ran.flatMap { $0.seconds.map(\.second) }.max() ?? 1))
        let maxThroughput = Double(max(1, ran.flatMap { $0.seconds.map { max($0.throughput, $0.offered) } }.max() ?? 1))
        // p99 on a log scale from 1 ms: a collapse and a healthy baseline fit one panel.
        let maxP99 = max(10, ran.flatMap { $0.seconds.map(\.p99) }.max() ?? 10)
        let logMax = log10(maxP99)
        func p99Y(_ v: Double) -> Double { min(1, max(0, log10(max(v, 1)) / logMax)) }
        let plotW = width - left - right
        func x(_ s: Int) -> Double { left + Double(s) / maxSecond * plotW }
        var out = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(top + 2 * panel + gap + 60))" font-family="sans-serif" font-size="12">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(left)" y="20" font-size="14">throughput (answers/s) and p99 latency (ms) per second</text>

            """
        for (k, (title, maxV)) in [("answers/s", maxThroughput), ("p99 ms (log)", maxP99)].enumerated() {
            let y0 = top + Double(k) * (panel + gap)
            out += "<rect x=\"\(left)\" y=\"\(y0)\" width=\"\(plotW)\" height=\"\(panel)\" fill=\"none\" stroke=\"#999\"/>\n"
            out += "<text x=\"5\" y=\"\(y0 + 12)\">\(title)</text>\n"
            var ticks: [(Double, Double)] = []
            if k == 0 {
                for t in 0...4 { ticks.append((maxV * Double(t) / 4, Double(t) / 4)) }
            } else {
                for v: Double in [1, 10, 100, 1000, 10000, 100000] where v <= maxP99 * 1.01 { ticks.append((v, p99Y(v))) }
            }
            for (v, frac) in ticks {
                let y = y0 + panel - panel * frac
                out += "<text x=\"\(left - 5)\" y=\"\(y + 4)\" text-anchor=\"end\">\(f(v, 0))</text>\n"
                out += "<line x1=\"\(left)\" y1=\"\(y)\" x2=\"\(left + plotW)\" y2=\"\(y)\" stroke=\"#eee\"/>\n"
            }
            // Phase boundaries.
            var t = 0
            for p in r.scenario.phases {
                out += "<line x1=\"\(x(t))\" y1=\"\(y0)\" x2=\"\(x(t))\" y2=\"\(y0 + panel)\" stroke=\"#ccc\" stroke-dasharray=\"4 3\"/>\n"
                if k == 0 { out += "<text x=\"\(x(t) + 3)\" y=\"\(y0 + 14)\" fill=\"#777\">\(p.name)</text>\n" }
                t += p.seconds
            }
            for (i, res) in ran.enumerated() {
                let pts = res.seconds.map { row -> String in
                    let frac = k == 0 ? min(Double(row.throughput), maxV) / maxV : p99Y(row.p99)
                    return "\(f(x(row.second), 1)),\(f(y0 + panel - panel * frac, 1))"
                }
                out += "<polyline fill=\"none\" stroke=\"\(colors[i % colors.count])\" stroke-width=\"2\" "
                out += "stroke-dasharray=\"\(dashes[i % dashes.count])\" points=\"\(pts.joined(separator: " "))\"/>\n"
            }
            if k == 0, let first = ran.first {
                let pts = first.seconds.map { "\(f(x($0.second), 1)),\(f(y0 + panel - panel * Double($0.offered) / maxV, 1))" }
                out += "<polyline fill=\"none\" stroke=\"#999\" stroke-dasharray=\"2 2\" points=\"\(pts.joined(separator: " "))\"/>\n"
            }
        }
        let ly = top + 2 * panel + gap + 25
        for (i, res) in ran.enumerated() {
            let lx = left + Double(i) * 130
            out += "<line x1=\"\(lx)\" y1=\"\(ly - 4)\" x2=\"\(lx + 24)\" y2=\"\(ly - 4)\" stroke=\"\(colors[i % colors.count])\" "
            out += "stroke-width=\"2\" stroke-dasharray=\"\(dashes[i % dashes.count])\"/>"
            out += "<text x=\"\(left + Double(i) * 130 + 28)\" y=\"\(ly)\">\(res.target)</text>\n"
        }
        out += "<text x=\"\(left + Double(ran.count) * 130)\" y=\"\(ly)\" fill=\"#777\">- - offered</text>\n"
        out += "<text x=\"\(left + plotW / 2)\" y=\"\(ly + 20)\" text-anchor=\"middle\">seconds</text>\n</svg>\n"
        return out
    }

    /// Writes report.md, report.json and chart.svg into `dir`.
    public static func write(_ r: BenchResult, to dir: String) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try markdown(r).write(toFile: dir + "/report.md", atomically: true, encoding: .utf8)
        try json(r).write(to: URL(fileURLWithPath: dir + "/report.json"))
        try svg(r).write(toFile: dir + "/chart.svg", atomically: true, encoding: .utf8)
    }
}
