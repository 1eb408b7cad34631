import Foundation
import Glibc
import SluiceBackend
import Testing

/// The files shipped for operators (`Configs/prometheus`, `Configs/grafana`,
/// `Configs/systemd`) against the real binary: every metric their queries name is in a
/// running sluice's `/metrics`, with the labels they select on, and the systemd unit
/// verifies and its commands work. promtool's own checks run in Tests/Ops/check-shipped.sh.
@Suite(.serialized) struct ShippedConfigsTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static func text(_ relative: String) throws -> String {
        try String(contentsOf: root.appendingPathComponent(relative), encoding: .utf8)
    }

    // MARK: - Queries

    /// The PromQL of the alert rules: each `expr:` value, inline or a block scalar.
    static func ruleExpressions(_ yaml: String) -> [String] {
        var out: [String] = []
        var block: (indent: Int, lines: [String])?
        for line in yaml.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            let indent = line.prefix { $0 == " " }.count
            let body = line.dropFirst(indent)
            if var b = block {
                if body.isEmpty || indent > b.indent {
                    b.lines.append(String(body))
                    block = b
                    continue
                }
                out.append(b.lines.joined(separator: "\n"))
                block = nil
            }
            guard body.hasPrefix("expr:") else { continue }
            let value = body.dropFirst("expr:".count).trimmingCharacters(in: .whitespaces)
            if value.hasPrefix("|") || value.hasPrefix(">") { block = (indent, []) } else { out.append(value) }
        }
        if let b = block { out.append(b.lines.joined(separator: "\n")) }
        return out
    }

    /// The PromQL of the dashboard: every `expr` (panels, annotations) and variable query.
    static func dashboardExpressions(_ json: Any) -> [String] {
        var out: [String] = []
        func walk(_ v: Any) {
            if let d = v as? [String: Any] {
                for (k, x) in d {
                    if let s = x as? String, k == "expr" || k == "definition" { out.append(s) }
                    walk(x)
                }
            } else if let a = v as? [Any] {
                a.forEach(walk)
            }
        }
        walk(json)
        return out
    }

    /// `sluice_*` metric names in PromQL, without recording rules (`level:sluice_x:op`).
    static func metricNames(_ expr: String) -> Set<String> {
        var out = Set<String>()
        let re = try! NSRegularExpression(pattern: "[A-Za-z_:][A-Za-z0-9_:]*")  // a constant pattern
        for m in re.matches(in: expr, range: NSRange(expr.startIndex..., in: expr)) {
            let token = String(expr[Range(m.range, in: expr)!])
            if token.hasPrefix("sluice_") && !token.contains(":") { out.insert(token) }
        }
        return out
    }

    /// `name{label op "value", ...}` selectors: (name, label, op, value).
    static func matchers(_ expr: String) -> [(String, String, String, String)] {
        var out: [(String, String, String, String)] = []
        let selector = try! NSRegularExpression(pattern: #"(sluice_[a-z0-9_]+)\{([^}]*)\}"#)  // constant
        let matcher = try! NSRegularExpression(pattern: #"([a-z_]+)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)""#)  // constant
        for s in selector.matches(in: expr, range: NSRange(expr.startIndex..., in: expr)) {
            let name = String(expr[Range(s.range(at: 1), in: expr)!])
            let inside = String(expr[Range(s.range(at: 2), in: expr)!])
            for m in matcher.matches(in: inside, range: NSRange(inside.startIndex..., in: inside)) {
                let part = { (i: Int) in String(inside[Range(m.range(at: i), in: inside)!]) }
                out.append((name, part(1), part(2), part(3)))
            }
        }
        return out
    }

    // MARK: - /metrics

    /// A scrape: families (from `# TYPE`), and per sample name its labels and their values.
    struct Scrape {
        var families = Set<String>()
        var labels: [String: [String: Set<String>]] = [:]

        init(_ text: String) {
            for line in text.split(separator: "\n") {
                if line.hasPrefix("# TYPE ") {
                    families.insert(String(line.split(separator: " ")[2]))
                    continue
                }
                if line.hasPrefix("#") { continue }
                let name = String(line.prefix { $0 != "{" && $0 != " " })
                var series = labels[name] ?? [:]
                if let open = line.firstIndex(of: "{"), let close = line.lastIndex(of: "}") {
                    for pair in Self.pairs(String(line[line.index(after: open)..<close])) {
                        series[pair.0, default: []].insert(pair.1)
                    }
                }
                labels[name] = series
            }
        }

        /// `a="x",b="y"` (values escaped as the format says) into pairs.
        static func pairs(_ s: String) -> [(String, String)] {
            var out: [(String, String)] = []
            var name = ""
            var value = ""
            var inValue = false
            var escaped = false
            for c in s {
                if inValue {
                    if escaped {
                        value.append(c == "n" ? "\n" : c)
                        escaped = false
                    } else if c == "\\" {
                        escaped = true
                    } else if c == "\"" {
                        out.append((name, value))
                        name = ""
                        value = ""
                        inValue = false
                    } else {
                        value.append(c)
                    }
                } else if c == "\"" {
                    inValue = true
                } else if c != "=" && c != "," {
                    name.append(c)
                }
            }
            return out
        }

        /// Exposed: as a sample, or as a family (a histogram's `_bucket`, `_sum`, `_count`
        /// belong to it; a family may have no series yet, as `saturation_eta_seconds` while
        /// traffic does not grow).
        func has(_ name: String) -> Bool {
            if labels[name] != nil || families.contains(name) { return true }
            for suffix in ["_bucket", "_sum", "_count"] where name.hasSuffix(suffix) {
                if families.contains(String(name.dropLast(suffix.count))) { return true }
            }
            return false
        }
    }

    func call(_ port: Int, _ path: String) throws -> TestResponse {
        try TestClient(port: port).request("GET \(path) HTTP/1.1\r\nHost: admin\r\nContent-Length: 0\r\n\r\n")
    }

    /// A sluice with every feature whose metrics the shipped files use: health checks,
    /// outlier detection, retries, limits, a standby tier, a rate-limited and a cached route,
    /// a TLS listener; and a little traffic. Scrapes until `names` are all served, or 5 s.
    func scrapeWithEverythingOn(until names: Set<String>) throws -> Scrape {
        let dir = NSTemporaryDirectory() + "sluice-shipped-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }  // a leftover temp dir harms no result
        let (cert, key) = try TLSTests.certificate("shop.example", in: dir)
        let a = try backend("app1")
        let s = try backend("standby1")
        let sluice = try SluiceProcess(
            yaml: """
                workers: 1
                access_log: { path: off }
                cache: { max_size: 4MiB, max_object: 64KiB }
                listeners:
                  - name: web
                    listen: 127.0.0.1:0
                    routes:
                      - match: { path_prefix: /limited/ }
                        cluster: app
                        rate_limit: { key: client_ip, rate: 1/s, burst: 1 }
                      - match: { path_prefix: /products/ }
                        cluster: app
                        cache: { default_ttl: 10s }
                      - cluster: app
                  - name: secure
                    listen: 127.0.0.1:0
                    tls: { certificates: [ { cert: \(cert), key: \(key) } ] }
                    routes: [ { cluster: app } ]
                clusters:
                  - name: app
                    backends: [ { name: app1, address: 127.0.0.1:\(a.port) } ]
                    standby: [ { name: standby1, address: 127.0.0.1:\(s.port) } ]
                    health_check: { path: /health, interval: 500ms, timeout: 400ms, rise: 1 }
                    outlier_detection: { consecutive_failures: 5 }
                    retries: { attempts: 1 }
                    limits: { max_requests_per_backend: 16 }
                """)
        let port = try sluice.port(of: "web")
        let admin = try sluice.adminPort()
        for path in ["/", "/products/1", "/products/1", "/limited/a", "/limited/a", "/limited/a", "/missing"] {
            _ = try get(port, path)
        }
        // Series computed once a second (the traffic rates) may need a tick: scrape again
        // until every name is there, for at most 5 s.
        let deadline = Date().addingTimeInterval(5)
        var scrape = Scrape(try call(admin, "/metrics").text)
        while !names.allSatisfy(scrape.has) && Date() < deadline {
            usleep(100_000)
            scrape = Scrape(try call(admin, "/metrics").text)
        }
        sluice.signal(SIGTERM)
        #expect(sluice.waitForExit(timeout: 10) == 0)
        return scrape
    }

    @Test func everyMetricTheAlertsAndTheDashboardNameIsServed() throws {
        let rules = Self.ruleExpressions(try Self.text("Configs/prometheus/sluice-alerts.yml"))
        let dashboard = Self.dashboardExpressions(
            try JSONSerialization.jsonObject(with: Data(try Self.text("Configs/grafana/sluice.json").utf8)))
        // The extractors found the queries (a broken one would make this test pass on nothing).
        #expect(rules.count == 17, "\(rules)")
        #expect(dashboard.count >= 30, "\(dashboard.count)")
        let all = (rules + dashboard).reduce(into: Set<String>()) { $0.formUnion(Self.metricNames($1)) }
        let scrape = try scrapeWithEverythingOn(until: all)
        #expect(scrape.has("sluice_requests_total") && scrape.has("sluice_tls_certificate_expiry_timestamp_seconds"))

        for (file, exprs) in [("sluice-alerts.yml", rules), ("sluice.json", dashboard)] {
            let names = exprs.reduce(into: Set<String>()) { $0.formUnion(Self.metricNames($1)) }
            #expect(names.count >= 8, "\(file): \(names.sorted())")
            let missing = names.filter { !scrape.has($0) }.sorted()
            #expect(missing.isEmpty, "\(file) names metrics /metrics does not serve: \(missing)")

            // Labels it selects on exist on the metric (instance and job come from the
            // scrape), and a value matched exactly is one the metric has (not a variable).
            for expr in exprs {
                for (name, label, op, value) in Self.matchers(expr) where label != "instance" && label != "job" {
                    guard let series = scrape.labels[name] else { continue }  // no series yet: only the name can be checked
                    #expect(series[label] != nil, "\(file): \(name) has no label \(label): \(expr)")
                    if op == "=" && !value.contains("$"), let values = series[label] {
                        #expect(values.contains(value), "\(file): \(name){\(label)=\"\(value)\"} never appears; values: \(values.sorted())")
                    }
                }
            }
        }
    }

    /// The extractors on known text: a block and an inline `expr:`, recording rules left out,
    /// (lines trimmed: PromQL ignores indentation), matchers with escaped quotes, a histogram's series counted under its family.
    @Test func theExtractorsFindNamesLabelsAndFamilies() {
        let yaml = """
            groups:
              - rules:
                  - record: cluster:sluice_x:ratio_rate5m
                    expr: |
                      sum(rate(sluice_a_total{code=~"5.."}[5m]))
                        / sum(rate(sluice_b_total[5m]))
                  - alert: A
                    expr: sluice_c > 0
                    for: 1m
            """
        let exprs = Self.ruleExpressions(yaml)
        #expect(exprs == ["sum(rate(sluice_a_total{code=~\"5..\"}[5m]))\n/ sum(rate(sluice_b_total[5m]))", "sluice_c > 0"])
        #expect(Self.metricNames("cluster:sluice_x:ratio_rate5m > sluice_c and sluice_d_bucket") == ["sluice_c", "sluice_d_bucket"])
        let m = Self.matchers(#"sluice_a{cluster=~"$cluster",name="a\"b"} / sluice_b{result!="x"}"#)
        #expect(
            m.map { "\($0.0) \($0.1)\($0.2)\($0.3)" } == [#"sluice_a cluster=~$cluster"#, #"sluice_a name=a\"b"#, "sluice_b result!=x"])
        let scrape = Scrape(
            """
            # TYPE sluice_d histogram
            sluice_d_bucket{cluster="a\\"b",le="+Inf"} 1
            # TYPE sluice_e gauge

            """)
        #expect(scrape.has("sluice_d_count") && scrape.has("sluice_d_bucket") && scrape.has("sluice_e"))
        #expect(!scrape.has("sluice_f") && !scrape.has("sluice_e_total"))
        #expect(scrape.labels["sluice_d_bucket"]?["cluster"] == ["a\"b"])
    }

    // MARK: - systemd

    /// The unit with the binary at its installed path replaced by the built one, and the
    /// configuration and pid file by `config` and `pidFile` when given.
    func unitCopy(in dir: String, config: String? = nil, pidFile: String? = nil) throws -> (path: String, text: String) {
        var text = try Self.text("Configs/systemd/sluice.service")
        text = text.replacingOccurrences(of: "/usr/local/bin/sluice", with: SluiceProcess.binary.path)
        if let config { text = text.replacingOccurrences(of: "/etc/sluice/sluice.yaml", with: config) }
        if let pidFile { text = text.replacingOccurrences(of: "/run/sluice/sluice.pid", with: pidFile) }
        let path = dir + "/sluice.service"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return (path, text)
    }

    /// `systemd-analyze verify` checks that every command's binary exists, so it runs on a
    /// copy naming the built binary; it exits 0 on unknown keys too, so any output fails.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-analyze")))
    func theSystemdUnitVerifies() throws {
        let dir = NSTemporaryDirectory() + "sluice-unit-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }  // a leftover temp dir harms no result
        let unit = try unitCopy(in: dir)
        let (rc, out) = try TLSTests.shell(["systemd-analyze", "verify", unit.path])
        #expect(rc == 0 && out.isEmpty, "systemd-analyze verify: \(out)")
    }

    /// The unit's commands as systemd would run them: ExecStartPre validates, ExecStart
    /// starts and writes the pid file, ExecReload's SIGHUP reloads, KillSignal stops with 0
    /// well within TimeoutStopSec.
    @Test func theSystemdUnitsCommandsWork() throws {
        let dir = NSTemporaryDirectory() + "sluice-unitrun-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }  // a leftover temp dir harms no result
        let b = try backend("app1")
        let config = dir + "/sluice.yaml"
        try """
        admin: { listen: 127.0.0.1:0 }
        access_log: { path: off }
        listeners: [ { name: web, listen: 127.0.0.1:0, routes: [ { cluster: app } ] } ]
        clusters: [ { name: app, backends: [ { address: 127.0.0.1:\(b.port) } ] } ]
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let pidFile = dir + "/sluice.pid"
        let unit = try unitCopy(in: dir, config: config, pidFile: pidFile)
        func command(_ key: String) -> [String] {
            let line = unit.text.split(separator: "\n").first { $0.hasPrefix(key + "=") } ?? ""
            return line.dropFirst(key.count + 1).split(separator: " ").map(String.init)
        }
        #expect(command("ExecReload") == ["/bin/kill", "-HUP", "$MAINPID"])
        #expect(command("KillSignal") == ["SIGTERM"])

        let pre = command("ExecStartPre")
        #expect(pre.first == SluiceProcess.binary.path)
        let (rc, out, err) = try SluiceProcess.runToEnd(Array(pre.dropFirst()))
        #expect(rc == 0, "\(out)\(err)")

        let start = command("ExecStart")
        #expect(start.first == SluiceProcess.binary.path)
        let p = Process()
        p.executableURL = SluiceProcess.binary
        p.arguments = Array(start.dropFirst())
        let errPipe = Pipe()
        p.standardError = errPipe
        p.standardOutput = FileHandle.nullDevice
        let log = LogText()
        errPipe.fileHandleForReading.readabilityHandler = { log.append($0.availableData) }
        try p.run()
        defer { if p.isRunning { kill(p.processIdentifier, SIGKILL) } }

        func waitFor(_ what: String, _ ok: () -> Bool) {
            let deadline = Date().addingTimeInterval(20)
            while !ok() && p.isRunning && Date() < deadline { usleep(20_000) }
            #expect(ok(), "\(what); log:\n\(log.text)")
        }
        waitFor("the pid file names the process") {
            (try? String(contentsOfFile: pidFile, encoding: .utf8)) == "\(p.processIdentifier)\n"  // absent until written
        }
        kill(p.processIdentifier, SIGHUP)
        waitFor("SIGHUP reloads") { log.text.contains("reloaded") }
        kill(p.processIdentifier, SIGTERM)
        let deadline = Date().addingTimeInterval(10)
        while p.isRunning && Date() < deadline { usleep(20_000) }
        #expect(!p.isRunning && p.terminationStatus == 0, "\(log.text)")
        #expect(!FileManager.default.fileExists(atPath: pidFile))
    }
}

/// Text a pipe's handler appends to while a test reads it.
private final class LogText: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()

    func append(_ d: Data) {
        lock.lock()
        data.append(d)
        lock.unlock()
    }

    var text: String {
        lock.lock()
        defer { lock.unlock() }
        return String(decoding: data, as: UTF8.self)
    }
}
