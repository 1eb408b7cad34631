import Foundation
import Testing

@testable import SluiceConfig

func errorsOf(_ yaml: String) -> [String] {
    do {
        _ = try ConfigLoader.parse(yaml, file: "t.yaml")
        return []
    } catch {
        return error.errors.map(\.description)
    }
}

let minimal = """
    listeners:
      - name: web
        listen: 127.0.0.1:0
        routes:
          - cluster: app
    clusters:
      - name: app
        backends:
          - { address: 127.0.0.1:8001 }
    """

@Suite struct ConfigLoaderTests {
    @Test func minimalConfigGetsTheDocumentedDefaults() throws {
        let c = try ConfigLoader.parse(minimal, file: "t.yaml")
        #expect(c.listeners.count == 1)
        #expect(c.clusters[0].backends[0].name == "127.0.0.1:8001")
        #expect(c.clusters[0].backends[0].weight == 1)
        #expect(c.limits.maxRequestHead == 32 * 1024)
        #expect(c.limits.maxRequestHeaders == 256)
        #expect(c.limits.maxRequestBody == 100 * 1024 * 1024)
        #expect(c.timeouts.clientHead == 10_000_000_000)
        #expect(c.clusters[0].healthCheck == nil)
        #expect(c.clusters[0].retries == nil)
        #expect(c.accessLog.target == .stdout)
        #expect(c.admin.listenText == "127.0.0.1:9901")
    }

    @Test func maxRequestHeadersIsAValidatedLimit() throws {
        let c = try ConfigLoader.parse("limits: { max_request_headers: 40 }\n" + minimal, file: "t.yaml")
        #expect(c.limits.maxRequestHeaders == 40)
        #expect(
            errorsOf("limits:\n  max_request_headers: 0\n" + minimal) == [
                "t.yaml:2: limits.max_request_headers: \"0\" must be a whole number from 1 to 10000"
            ])
    }

    @Test func aListenerOnTheAdminAddressIsRefused() {
        let clash = """
            admin: { listen: 127.0.0.1:9911 }
            listeners:
              - name: web
                listen: 127.0.0.1:9911
                routes: [ { cluster: app } ]
            clusters:
              - { name: app, backends: [ { address: 127.0.0.1:8001 } ] }
            """
        #expect(
            errorsOf(clash) == [
                "t.yaml:4: listeners[0].listen: 127.0.0.1:9911 is where the admin listener listens (admin.listen 127.0.0.1:9911, line 1)"
            ])
        // The default admin address counts, and a wildcard listener covers it.
        let wildcard = minimal.replacingOccurrences(of: "127.0.0.1:0", with: "0.0.0.0:9901")
        #expect(errorsOf(wildcard).first?.hasPrefix("t.yaml:3: listeners[0].listen: 0.0.0.0:9901 is where the admin") == true)
        // Another port, or admin off, is fine.
        #expect(errorsOf(clash.replacingOccurrences(of: "listen: 127.0.0.1:9911\n", with: "listen: 127.0.0.1:9912\n")).isEmpty)
        #expect(errorsOf(clash.replacingOccurrences(of: "{ listen: 127.0.0.1:9911 }", with: "{ listen: off }")).isEmpty)
    }

    @Test func aRepeatedYAMLKeyIsOneErrorAtTheRepeatsLine() {
        // Block style, inside a list item (line 8 repeats line 7's key).
        let block = minimal.replacingOccurrences(of: "  - name: app\n", with: "  - name: app\n    name: again\n")
        #expect(errorsOf(block) == ["t.yaml:8: key \"name\" is repeated (first at line 7)"])
        // At the top level, with a nested mapping between the two.
        let top = "workers: 1\n" + minimal + "\nworkers: 2\n"
        #expect(errorsOf(top) == ["t.yaml:11: key \"workers\" is repeated (first at line 1)"])
        // Flow style.
        let flow = minimal.replacingOccurrences(
            of: "{ address: 127.0.0.1:8001 }", with: "{ address: 127.0.0.1:8001, weight: 1,\n        weight: 2 }")
        #expect(errorsOf(flow) == ["t.yaml:10: key \"weight\" is repeated (first at line 9)"])
    }

    @Test func tokenFileIsReadBesideTheConfigAndMustHoldAToken() throws {
        let dir = NSTemporaryDirectory() + "sluice-cfg-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "s3cret\n".write(toFile: dir + "/token", atomically: true, encoding: .utf8)
        try " \n".write(toFile: dir + "/empty", atomically: true, encoding: .utf8)
        let file = dir + "/sluice.yaml"
        let c = try ConfigLoader.parse("admin: { token_file: token }\n" + minimal, file: file)
        #expect(c.admin.tokenFile == dir + "/token")
        #expect(c.admin.token == "s3cret")
        do {
            _ = try ConfigLoader.parse("admin:\n  token_file: empty\n" + minimal, file: file)
            Issue.record("an empty token file was accepted")
        } catch {
            #expect(
                error.errors.map(\.description) == [
                    "\(file):2: admin.token_file: \"\(dir)/empty\" is empty (it would refuse every call but GET)"
                ])
        }
    }

    @Test func theAlertWebhookIsAnHTTPURLCheckedAtLoad() throws {
        let c = try ConfigLoader.parse("admin: { alert_webhook: \"http://127.0.0.1:9000/alerts\" }\n" + minimal, file: "s.yaml")
        #expect(c.admin.alertWebhook?.path == "/alerts")
        #expect(c.admin.alertWebhook?.address.description == "127.0.0.1:9000")
        #expect(try ConfigLoader.parse("admin: { alert_webhook: null }\n" + minimal, file: "s.yaml").admin.alertWebhook == nil)
        #expect(try ConfigLoader.parse(minimal, file: "s.yaml").admin.alertWebhook == nil)
        do {
            _ = try ConfigLoader.parse("admin:\n  alert_webhook: https://hooks.example/x\n" + minimal, file: "s.yaml")
            Issue.record("an https webhook was accepted")
        } catch {
            #expect(
                error.errors.map(\.description) == [
                    "s.yaml:2: admin.alert_webhook: only http:// is supported (put a local relay in front of an https receiver): \"https://hooks.example/x\""
                ])
        }
    }

    @Test func relativeCertificatesAndCAFilesAreReadBesideTheConfig() throws {
        let dir = NSTemporaryDirectory() + "sluice-cfg-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir + "/certs", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for f in ["certs/a.pem", "certs/a.key", "ca.pem"] { try "x".write(toFile: dir + "/" + f, atomically: true, encoding: .utf8) }
        let yaml = """
            listeners:
              - name: web
                listen: 127.0.0.1:0
                tls: { certificates: [ { cert: certs/a.pem, key: certs/a.key } ] }
                routes: [ { cluster: app } ]
            clusters:
              - name: app
                backends: [ { address: 127.0.0.1:8001 } ]
                upstream_tls: { ca_file: ca.pem }
            """
        let c = try ConfigLoader.parse(yaml, file: dir + "/sluice.yaml")
        #expect(c.listeners[0].tls?.certificates[0].cert == dir + "/certs/a.pem")
        #expect(c.listeners[0].tls?.certificates[0].key == dir + "/certs/a.key")
        #expect(c.clusters[0].upstreamTLS?.caFile == dir + "/ca.pem")
    }

    @Test func unknownKeyIsAnErrorWithItsLine() {
        let yaml = minimal + "\n    bogus: 1\n"
        let errs = errorsOf(yaml)
        #expect(errs.count == 1)
        #expect(errs.first?.hasPrefix("t.yaml:10: unknown key \"bogus\" in clusters[0]") == true)
    }

    @Test func everyErrorIsReportedWithFileAndLine() {
        let yaml = """
            timeouts:
              connect: 2 seconds
            listeners:
              - listen: 127.0.0.1:99999
                routes:
                  - cluster: nope
            clusters:
              - name: app
                balance: fastest
                backends:
                  - { address: 127.0.0.1:8001, weight: -1 }
            """
        let errs = errorsOf(yaml)
        #expect(errs.contains { $0.hasPrefix("t.yaml:2: timeouts.connect") })
        #expect(errs.contains { $0.hasPrefix("t.yaml:4: listeners[0].listen") })
        #expect(errs.contains { $0.hasPrefix("t.yaml:6: listeners[0].routes[0]: unknown cluster \"nope\"") })
        #expect(errs.contains { $0.hasPrefix("t.yaml:9: cluster \"app\".balance") })
        #expect(errs.contains { $0.hasPrefix("t.yaml:11: cluster \"app\".backends[0].weight") })
    }

    @Test func yamlSyntaxErrorsHaveALine() {
        let errs = errorsOf("listeners:\n  - name: [unclosed\nclusters: []\n")
        #expect(errs.count == 1)
        #expect(errs[0].hasPrefix("t.yaml:"))
        #expect(errs[0].contains("YAML syntax"))
    }

    @Test func duplicateBackendNamesAndMissingParts() {
        let yaml = """
            listeners:
              - listen: 127.0.0.1:0
            clusters:
              - name: app
                backends:
                  - { name: a, address: 127.0.0.1:1 }
                  - { name: a, address: 127.0.0.1:2 }
            """
        let errs = errorsOf(yaml)
        #expect(errs.contains { $0.contains("at least one route") })
        #expect(errs.contains { $0.hasPrefix("t.yaml:7:") && $0.contains("used twice") })
    }

    @Test func unitsParse() {
        #expect(Units.duration("250ms") == 250_000_000)
        #expect(Units.duration("2s") == 2_000_000_000)
        #expect(Units.duration("5m") == 300_000_000_000)
        #expect(Units.duration("1.5s") == 1_500_000_000)
        #expect(Units.duration("2") == nil)
        #expect(Units.duration("s") == nil)
        #expect(Units.size("16KiB") == 16384)
        #expect(Units.size("1MiB") == 1 << 20)
        #expect(Units.size("10") == 10)
        #expect(Units.size("1.5MiB") == nil)
        #expect(Units.percentage("50%") == 0.5)
        #expect(Units.percentage("150%") == nil)
    }

    @Test func expectStatusTakesAStatusARangeOrAList() throws {
        let yaml =
            minimal + """

                    health_check:
                      expect_status: [200, 300-302]
                """
        let c = try ConfigLoader.parse(yaml, file: "t.yaml")
        #expect(c.clusters[0].healthCheck?.expectStatus == [200...200, 300...302])
    }

    @Test func everyExampleConfigIsAccepted() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Configs")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".yaml") }
        #expect(files.count >= 2)
        for f in files {
            do {
                _ = try ConfigLoader.load(path: dir.appendingPathComponent(f).path)
            } catch {
                Issue.record("\(f): \(error)")
            }
        }
    }
}

@Suite struct OverloadConfigTests {
    static let yaml = """
        listeners:
          - name: web
            listen: 127.0.0.1:0
            routes:
              - match: { path_prefix: /checkout/ }
                cluster: app
                priority: critical
              - match: { path_prefix: /products/ }
                cluster: app
                priority: sheddable
                rate_limit: { key: "header:X-Api-Key", rate: 600/m, burst: 5 }
              - cluster: app
                rate_limit: { rate: 20/s }
        clusters:
          - name: app
            backends:
              - { address: 127.0.0.1:8001 }
            limits: { max_requests_per_backend: 50, reserve_for_critical: 20%, adaptive: true }
        """

    @Test func priorityRateLimitAndReservationDecode() throws {
        let c = try ConfigLoader.parse(Self.yaml, file: "t.yaml")
        let r = c.listeners[0].routes
        #expect(r.map(\.priority) == [.critical, .sheddable, .normal])
        #expect(r[0].rateLimit == nil)
        #expect(r[1].rateLimit == RateLimitConfig(key: .header("x-api-key"), rate: 10, burst: 5))
        // burst defaults to one second of the sustained rate
        #expect(r[2].rateLimit == RateLimitConfig(key: .clientIP, rate: 20, burst: 20))
        let l = try #require(c.clusters[0].limits)
        #expect(l.reserveForCritical == 0.2)
        #expect(l.adaptive)
        #expect(ClusterLimits().reserveForCritical == 0.1)
        #expect(!ClusterLimits().adaptive)
    }

    @Test func badOverloadValuesAreErrorsWithTheirLine() {
        let bad = Self.yaml
            .replacingOccurrences(of: "priority: critical", with: "priority: urgent")
            .replacingOccurrences(of: "rate: 600/m", with: "rate: 600/week")
            .replacingOccurrences(of: "reserve_for_critical: 20%", with: "reserve_for_critical: 100%")
            .replacingOccurrences(of: "{ rate: 20/s }", with: "{ key: cookie, rate: 20/s }")
        let e = errorsOf(bad)
        #expect(e.count == 4, "\(e)")
        #expect(e.contains { $0.hasPrefix("t.yaml:7:") && $0.contains("priority must be one of critical, normal, sheddable") })
        #expect(e.contains { $0.hasPrefix("t.yaml:11:") && $0.contains("is not a rate") })
        #expect(e.contains { $0.hasPrefix("t.yaml:13:") && $0.contains("key must be client_ip or header:NAME") })
        #expect(e.contains { $0.hasPrefix("t.yaml:18:") && $0.contains("reserve_for_critical must be below 100%") })
        #expect(
            errorsOf(Self.yaml.replacingOccurrences(of: "{ rate: 20/s }", with: "{ burst: 3 }")).contains {
                $0.contains("\"rate\" is required")
            })
    }

    @Test func ratesParse() {
        #expect(Units.rate("20/s") == 20)
        #expect(Units.rate("600/m") == 10)
        #expect(Units.rate("0.5/s") == 0.5)
        for bad in ["0/s", "-1/s", "20", "20/d", "x/s", "/s", "inf/s"] { #expect(Units.rate(bad) == nil, "\(bad)") }
    }
}
