import Foundation
import SluiceBalancing

/// `GET /history` as JSON (docs/history-and-storms.md has the shape): per cluster its
/// traffic state and its points as columns, per backend the same, then the events.
///
/// Pure; control thread. Written by hand into one string: 15 minutes of a few clusters is a
/// few hundred kilobytes, and the dashboard fetches it once, then only what is new.
struct HistoryDocument {
    /// Which points: those later than `since` (Unix seconds), or the last `seconds`.
    enum Window: Equatable {
        case seconds(Int)
        case since(Double)
    }

    let history: History
    let snapshotGeneration: Int
    /// The newest point's time (or now, before the first tick).
    let now: Double

    /// Reads `seconds=N` (1…900) or `since=T` from a query string; nil when a value is bad.
    static func window(query: String) -> Window? {
        var w = Window.seconds(History.seconds)
        for pair in query.split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1).map(String.init)
            guard kv.count == 2 else { continue }
            switch kv[0] {
            case "seconds":
                guard let n = Int(kv[1]), n >= 1 else { return nil }
                w = .seconds(min(n, History.seconds))
            case "since":
                guard let t = Double(kv[1]), t.isFinite else { return nil }
                w = .since(t)
            default: continue
            }
        }
        return w
    }

    func json(_ window: Window) -> Data {
        let after: Double
        switch window {
        case .seconds(let n): after = now - Double(n)
        case .since(let t): after = t
        }
        var out = "{\"now\": \(num(now)), \"interval_seconds\": 1, \"generation\": \(snapshotGeneration), \"clusters\": ["
        for (ci, c) in history.clusters.enumerated() {
            if ci > 0 { out += ", " }
            cluster(c, after: after, into: &out)
        }
        out += "], \"events\": ["
        var first = true
        let events = history.events
        for i in events.suffixStart(where: { $0.t > after })..<events.count {
            let e = events[i]
            out += first ? "\n  " : ",\n  "
            first = false
            out += "{\"t\": \(num(e.t)), \"kind\": \"\(e.kind.rawValue)\""
            if let c = e.cluster { out += ", \"cluster\": \(Self.string(c))" }
            if let b = e.backend { out += ", \"backend\": \(Self.string(b))" }
            out += ", \"text\": \(Self.string(e.text))}"
        }
        out += "]}\n"
        return Data(out.utf8)
    }

    private func cluster(_ c: History.ClusterHistory, after: Double, into out: inout String) {
        let start = c.points.suffixStart(where: { $0.t > after })
        let range = start..<c.points.count
        let d = c.detector
        out += "\n {\"name\": \(Self.string(c.name)), \"traffic\": {\"state\": \"\(d.state.rawValue)\""
        out += ", \"rate_10s\": \(num(d.fastRate)), \"rate_10m\": \(num(d.slowRate)), \"deviation\": \(num(d.deviation))"
        out += ", \"eta_seconds\": \(opt(d.etaSeconds)), \"capacity\": \(opt(c.capacity))},\n  \"points\": {"
        column("t", range, into: &out) { num(c.points[$0].t) }
        column("2xx", range, into: &out) { "\(c.points[$0].c2xx)" }
        column("3xx", range, into: &out) { "\(c.points[$0].c3xx)" }
        column("4xx", range, into: &out) { "\(c.points[$0].c4xx)" }
        column("5xx", range, into: &out) { "\(c.points[$0].c5xx)" }
        column("shed", range, into: &out) { "\(c.points[$0].shedTotal)" }
        out += ", \"shed_by_reason\": {"
        for r in ShedReason.allCases {
            if r.rawValue > 0 { out += ", " }
            out += "\"\(r.label)\": ["
            out += range.map { "\(c.points[$0].shed[r.rawValue])" }.joined(separator: ",")
            out += "]"
        }
        out += "}"
        column("p50", range, into: &out) { latency(c.points[$0].p50) }
        column("p99", range, into: &out) { latency(c.points[$0].p99) }
        column("in_flight", range, into: &out) { "\(c.points[$0].inFlight)" }
        column("queue", range, into: &out) { "\(c.points[$0].queue)" }
        column("standby_share", range, into: &out) { num(Double(c.points[$0].standbyShare)) }
        column("state", range, into: &out) { "\"\(c.points[$0].state.rawValue)\"" }
        out += "},\n  \"backends\": ["
        for (bi, name) in c.backendNames.enumerated() {
            guard let ring = c.backends[name], let last = ring.last else { continue }
            if bi > 0 { out += "," }
            out += "\n   {\"name\": \(Self.string(name)), \"state\": \"\(last.state.rawValue)\", \"in_flight\": \(last.inFlight)"
            if let i = c.info[name] {
                out += ", \"address\": \(Self.string(i.address)), \"tier\": \"\(i.tier)\", \"weight\": \(i.weight)"
            }
            out += ", \"source\": \"config\""
            out += ", \"points\": {"
            column("requests", range, into: &out) { ring[$0].present ? "\(ring[$0].requests)" : "null" }
            column("5xx", range, into: &out) { ring[$0].present ? "\(ring[$0].c5xx)" : "null" }
            column("p50", range, into: &out) { ring[$0].present ? latency(ring[$0].p50) : "null" }
            column("p99", range, into: &out) { ring[$0].present ? latency(ring[$0].p99) : "null" }
            column("in_flight", range, into: &out) { ring[$0].present ? "\(ring[$0].inFlight)" : "null" }
            column("state", range, into: &out) { ring[$0].present ? "\"\(ring[$0].state.rawValue)\"" : "null" }
            out += "}}"
        }
        out += "]}"
    }

    /// `"name": [v, v, …]`, a comma before every column but the first of an object.
    private func column(_ name: String, _ range: Range<Int>, into out: inout String, _ value: (Int) -> String) {
        if !out.hasSuffix("{") { out += ", " }
        out += "\"\(name)\": ["
        var first = true
        for i in range {
            if !first { out += "," }
            first = false
            out += value(i)
        }
        out += "]"
    }

    private func num(_ x: Double) -> String {
        guard x.isFinite else { return "null" }
        if x == x.rounded() && abs(x) < 1e15 { return String(Int64(x)) }
        return String((x * 1000).rounded() / 1000)
    }

    private func opt(_ x: Double?) -> String { x.map(num) ?? "null" }

    /// Seconds to the microsecond, or null (a second with no answer).
    private func latency(_ x: Float) -> String {
        guard x.isFinite else { return "null" }
        return String(Double((Double(x) * 1_000_000).rounded()) / 1_000_000)
    }

    /// A JSON string literal: quotes, backslashes and control characters escaped.
    static func string(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "<": out += "\\u003c"  // harmless in JSON, and never `</script>` if a page inlines it
            default:
                if u.value < 0x20 {
                    out += "\\u" + String(format: "%04x", u.value)
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }
}
