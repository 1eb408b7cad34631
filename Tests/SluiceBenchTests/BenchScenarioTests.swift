import Foundation
import Testing

@testable import SluiceBenchKit

/// A tiny spike scenario through the real (debug) sluice binary: the report's structure
/// and that the counts add up. No speed assertions: this machine is shared.
@Suite struct BenchScenarioTests {
    static var sluiceBinary: String {
        let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for d in [dir, dir.deletingLastPathComponent()] {
            let p = d.appendingPathComponent("sluice").path
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../.build/debug/sluice").standardized
            .path
    }

    @Test func tinySpikeScenarioReportsEveryPhaseAndItsCountsAddUp() throws {
        var s = Scenario()
        s.rate = 100
        s.spikeFactor = 4
        s.warmupSeconds = 1
        s.baselineSeconds = 1
        s.spikeSeconds = 1
        s.recoverySeconds = 2
        s.connections = 16
        s.backends = 2
        s.backendConcurrency = 4
        s.serviceTimeMillis = 5
        s.timeoutMillis = 1000
        var runner = BenchRunner(scenario: s, targets: [.sluice], sluiceBinary: Self.sluiceBinary)
        runner.log = { _ in }
        let result = try runner.run(command: "test")
        #expect(result.results.count == 1)
        let r = result.results[0]
        #expect(r.skipped == nil, "\(r.skipped ?? "")")
        #expect(r.phases.map(\.phase) == ["warmup", "baseline", "spike", "recovery"])
        // Open loop: the offered load follows the profile exactly.
        let offered = r.seconds.reduce(0) { $0 + $1.offered }
        #expect(offered == r.issued)
        #expect(r.issued == 100 + 100 + 400 + 200)
        #expect(r.issued == r.answered + r.errors + r.timeouts)
        #expect(r.answered > 0)
        let byClass = r.seconds.reduce(0) { $0 + $1.byClass.values.reduce(0, +) }
        #expect(byClass == r.answered)
        #expect(r.phases.first { $0.phase == "spike" }!.offeredPerSecond == 400)
        #expect(r.phases.allSatisfy { $0.p99 >= $0.p50 })
        #expect((r.peakRSSKiB ?? 0) > 0)

        let dir = NSTemporaryDirectory() + "bench-report-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Report.write(result, to: dir)
        let md = try String(contentsOfFile: dir + "/report.md", encoding: .utf8)
        #expect(md.contains("| spike |"))
        #expect(md.contains("Issued \(r.issued) = answered \(r.answered)"))
        let svg = try String(contentsOfFile: dir + "/chart.svg", encoding: .utf8)
        #expect(svg.contains("<polyline"))
        let decoded = try JSONDecoder().decode(BenchResult.self, from: Data(contentsOf: URL(fileURLWithPath: dir + "/report.json")))
        #expect(decoded.results[0].issued == r.issued)
    }
}
