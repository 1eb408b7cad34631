import Foundation
import Glibc
import SluiceBackend
import Testing

/// Auto-scaling under load (issue 11): 300 requests a second while a file source adds and
/// removes backends in 20 steps. No client sees an error, and a new backend gets no more
/// than its slow-start share in its first second.
@Suite(.serialized) struct ScaleStepsTests {
    @Test func twentyScaleStepsAt300RequestsASecondWithoutAClientError() throws {
        let pool = try (0..<13).map { try backend("n\($0)") }
        let list = NSTemporaryDirectory() + "sluice-scale-\(UUID().uuidString).yaml"
        defer { try? FileManager.default.removeItem(atPath: list) }
        func write(_ members: [Int]) throws {
            try DiscoveryRig.write(
                members.map { "- { name: n\($0), address: 127.0.0.1:\(pool[$0].port) }" }.joined(separator: "\n"), to: list)
        }
        var members = [0, 1, 2]
        try write(members)
        let sluice = try SluiceProcess(
            yaml: """
                workers: 2
                access_log: { path: off }
                listeners:
                  - { name: web, listen: 127.0.0.1:0, routes: [ { cluster: app } ] }
                clusters:
                  - name: app
                    slow_start: 5s
                    health_check: { path: /health, interval: 200ms, timeout: 150ms, rise: 1, fall: 1 }
                    discovery: { file: \(list), refresh: 1s, max_removed: 1 }
                """)
        defer {
            sluice.signal(SIGTERM)
            _ = sluice.waitForExit(timeout: 10)
        }
        let port = try sluice.port(of: "web")
        let admin = try sluice.adminPort()
        #expect(DiscoveryRig.until(5) { try DiscoveryRig.backends(admin).count == 3 } != nil)
        // The first three are in rotation from the start (their ramp is over before the load).
        usleep(5_500_000)
        let load = SteadyLoad(port: port, rate: 300, threads: 6)
        var next = 3
        var added: [(name: String, at: Double)] = []
        for step in 0..<20 {
            usleep(1_500_000)
            if step % 2 == 0 || members.count < 2 {
                members.append(next)
                added.append(("n\(next)", Date().timeIntervalSince(load.started)))
                next += 1
            } else {
                members.removeFirst()
            }
            try write(members)
        }
        usleep(3_000_000)
        load.stop()
        let answers = load.answers
        #expect(load.errorList.isEmpty, "\(load.errorList.count) errors: \(load.errorList.prefix(5))")
        #expect(answers.count > 300 * 30 * 8 / 10, "about 300 a second for ~33 s: \(answers.count)")
        let final = try DiscoveryRig.backends(admin)
        #expect(final.keys.sorted() == members.map { "n\($0)" }.sorted())

        // Each new backend's first second: slow start from 10% over 5 s gives it at most
        // 0.1 + 0.9 × 1/5 = 0.28 of a full weight by the end of that second; with at least two
        // others at full weight that is under 0.28 / 2.28 = 12.3% of the answers (25-33% unramped).
        var shares: [String] = []
        defer {
            print(
                "scale steps: \(answers.count) answers, \(load.errorList.count) errors; first-second shares: \(shares.joined(separator: " "))"
            )
        }
        for a in added {
            guard let first = answers.first(where: { $0.backend == a.name })?.t else {
                Issue.record("\(a.name) never served")
                continue
            }
            let window = answers.filter { $0.t >= first && $0.t < first + 1 }
            let mine = window.filter { $0.backend == a.name }.count
            let share = Double(mine) / Double(max(window.count, 1))
            shares.append("\(a.name) \(Int((share * 1000).rounded()) / 10)%")
            #expect(share <= 0.15, "\(a.name): \(mine) of \(window.count) answers in its first second (\(share))")
            #expect(first - a.at < 2.5, "\(a.name) served \(first - a.at) s after it was written (poll 1 s + a check)")
        }
    }
}
