import Foundation
import Testing

@testable import SluiceConfig

private func config(_ discovery: String, backends: String = "") -> String {
    """
    listeners:
      - name: web
        listen: 127.0.0.1:0
        routes:
          - cluster: app
    clusters:
      - name: app
    \(backends)
        discovery:
    \(discovery)
    """
}

@Suite struct DiscoveryConfigTests {
    @Test func aDNSSourceNeedsNoBackendsAndGetsTheDocumentedDefaults() throws {
        let c = try ConfigLoader.parse(config("      dns: app.internal:8000"), file: "t.yaml")
        let d = try #require(c.clusters[0].discovery)
        #expect(d.source == .dns(host: "app.internal", port: 8000))
        #expect(d.refresh == 5_000_000_000)
        #expect(d.resolvers == nil)
        #expect(d.maxRemoved == .share(0.5))
        #expect(c.clusters[0].backends.isEmpty)
    }

    @Test func everyKeyIsRead() throws {
        let yaml = config(
            """
                  srv: _http._tcp.app.internal
                  refresh: 2s
                  resolvers: [127.0.0.1:5353, 10.0.0.2, "[::1]:53", "::1"]
                  max_removed: 2
            """)
        let d = try #require(try ConfigLoader.parse(yaml, file: "t.yaml").clusters[0].discovery)
        #expect(d.source == .srv("_http._tcp.app.internal"))
        #expect(d.refresh == 2_000_000_000)
        #expect(d.resolvers?.map(\.description) == ["127.0.0.1:5353", "10.0.0.2:53", "[::1]:53", "[::1]:53"])
        #expect(d.maxRemoved == .count(2))
    }

    @Test func aFileIsReadRelativeToTheConfigsFolder() throws {
        let c = try ConfigLoader.parse(config("      file: app-backends.yaml"), file: "/etc/sluice/sluice.yaml")
        #expect(c.clusters[0].discovery?.source == .file("/etc/sluice/app-backends.yaml"))
    }

    @Test func aOneCharacterConfigNameReadsFilesFromTheWorkingFolder() throws {
        // `sluice check --config f` once trapped in NSString.deletingLastPathComponent.
        let c = try ConfigLoader.parse(config("      file: list.yaml"), file: "f")
        let cwd = FileManager.default.currentDirectoryPath
        #expect(c.clusters[0].discovery?.source == .file(cwd + "/list.yaml"))
        let root = try ConfigLoader.parse(config("      file: list.yaml"), file: "/f")
        #expect(root.clusters[0].discovery?.source == .file("/list.yaml"))
    }

    @Test func mistakesGetFileAndLine() {
        #expect(
            errorsOf(config("      refresh: 5s")) == [
                "t.yaml:10: cluster \"app\".discovery: name one source: dns (host:port), srv (a SRV name) or file (a path)"
            ])
        #expect(
            errorsOf(config("      dns: a:80\n      file: x.yaml")) == [
                "t.yaml:10: cluster \"app\".discovery: dns and file are given; use one source per cluster"
            ])
        #expect(
            errorsOf(config("      dns: app.internal")).first?.hasPrefix(
                "t.yaml:10: cluster \"app\".discovery.dns: \"app.internal\" must be host:port") == true)
        #expect(errorsOf(config("      srv: _http._tcp.x:80")).first?.hasPrefix("t.yaml:10:") == true)
        #expect(
            errorsOf(config("      dns: a:80\n      refresh: 500ms")) == [
                "t.yaml:11: cluster \"app\".discovery.refresh must be at least 1s"
            ])
        #expect(
            errorsOf(config("      dns: a:80\n      resolvers: [dns.google:53]")).first?.hasPrefix(
                "t.yaml:11: cluster \"app\".discovery.resolvers: \"dns.google:53\" must be an IP address") == true)
        #expect(
            errorsOf(config("      dns: a:80\n      max_removed: 0%")).first?.hasPrefix("t.yaml:11: cluster \"app\".discovery.max_removed")
                == true)
        #expect(errorsOf(config("      dns: a:80\n      max_removed: -1")).first?.hasPrefix("t.yaml:11:") == true)
        #expect(errorsOf(config("      dns: a:80\n      ttl: 5s")).first?.hasPrefix("t.yaml:11: unknown key \"ttl\"") == true)
        #expect(errorsOf(config("      file: x.yaml\n      resolvers: [127.0.0.1]")).first?.hasPrefix("t.yaml:11:") == true)
    }

    @Test func anIPAddressIsNotADNSName() {
        let errors = errorsOf(config("      dns: 10.0.0.1:80"))
        #expect(errors.first?.contains("is an IP address, not a name to look up") == true, "\(errors)")
        #expect(errorsOf(config("      dns: a:80\n      max_removed: 150%")).first?.contains("from 1% to 100%") == true)
    }

    @Test func withoutDiscoveryBackendsAreStillRequired() {
        let yaml = """
            listeners:
              - name: web
                listen: 127.0.0.1:0
                routes:
                  - cluster: app
            clusters:
              - name: app
            """
        #expect(errorsOf(yaml) == ["t.yaml:7: cluster \"app\": \"backends\" is required (or \"discovery\")"])
    }

    @Test func maxRemovedAllowsAtLeastOne() {
        #expect(MaxRemoved.share(0.5).allowed(of: 4) == 2)
        #expect(MaxRemoved.share(0.5).allowed(of: 1) == 1)
        #expect(MaxRemoved.share(0.1).allowed(of: 4) == 1)
        #expect(MaxRemoved.count(3).allowed(of: 2) == 3)
    }
}
