import Foundation
import Glibc

/// The real `sluice` binary, started by a test with a config file, ended by its PID.
final class SluiceProcess: @unchecked Sendable {
    let process = Process()
    let stderrPipe = Pipe()
    let stdoutPipe = Pipe()
    let configPath: String
    private(set) var stderrText = ""
    private let lock = NSLock()

    /// The built `sluice` next to the test bundle (swift build puts both in the same folder).
    static var binary: URL {
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for dir in [bundle, bundle.deletingLastPathComponent(), Bundle.main.bundleURL.deletingLastPathComponent()] {
            let candidate = dir.appendingPathComponent("sluice")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../../.build/debug/sluice").standardized
    }

    /// Runs `sluice ARGS` to completion; returns exit status, stdout and stderr.
    static func runToEnd(_ args: [String]) throws -> (Int32, String, String) {
        let p = Process()
        p.executableURL = binary
        p.arguments = args
        let out = Pipe()
        let err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    /// Writes `yaml` to a temporary file and starts `sluice run` on it. Without an `admin:`
    /// block the admin listener takes a free port (tests run in parallel).
    /// `binary`, `arguments` (after the config) and `environment` (added) for the upgrade tests.
    init(yaml: String, binary: URL? = nil, arguments: [String] = [], environment: [String: String] = [:]) throws {
        configPath = NSTemporaryDirectory() + "sluice-test-\(UUID().uuidString).yaml"
        let text = yaml.contains("admin:") ? yaml : "admin: { listen: 127.0.0.1:0 }\n" + yaml
        try text.write(toFile: configPath, atomically: true, encoding: .utf8)
        process.executableURL = binary ?? Self.binary
        process.arguments = ["run", "--config", configPath] + arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        process.standardError = stderrPipe
        process.standardOutput = stdoutPipe
        stderrPipe.fileHandleForReading.readabilityHandler = { [weak self] h in
            let d = h.availableData
            guard let self, !d.isEmpty else { return }
            self.lock.lock()
            self.stderrText += String(decoding: d, as: UTF8.self)
            self.lock.unlock()
        }
        stdoutPipe.fileHandleForReading.readabilityHandler = { h in _ = h.availableData }
        try process.run()
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: configPath)
    }

    var pid: Int32 { process.processIdentifier }

    var log: String {
        lock.lock()
        defer { lock.unlock() }
        return stderrText
    }

    /// The admin listener's port, from its log line.
    func adminPort(timeout: TimeInterval = 20) throws -> Int { try port(of: nil, timeout: timeout) }

    /// Waits for the "listening" log line of `listener` (nil: the admin listener) and returns its port.
    func port(of listener: String?, timeout: TimeInterval = 20) throws -> Int {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            for line in log.split(separator: "\n")
            where (listener.map { line.contains("listener=\($0)") } ?? line.contains("admin listening")) && line.contains("listening") {
                if let r = line.range(of: #"address=[0-9.]+:([0-9]+)"#, options: .regularExpression) {
                    let text = line[r]
                    if let colon = text.lastIndex(of: ":"), let p = Int(text[text.index(after: colon)...]) { return p }
                }
            }
            if !process.isRunning { break }
            usleep(20_000)
        }
        throw TestClientError(description: "sluice did not start listening; log:\n\(log)")
    }

    func signal(_ sig: Int32) { kill(pid, sig) }

    /// Waits for exit up to `timeout`; nil if still running.
    func waitForExit(timeout: TimeInterval) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        return process.isRunning ? nil : process.terminationStatus
    }

    /// Peak and current resident memory in KiB, from /proc.
    func memoryKiB() -> (peak: Int, current: Int) {
        guard let s = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return (0, 0) }
        func field(_ name: String) -> Int {
            for l in s.split(separator: "\n") where l.hasPrefix(name) {
                return Int(l.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "0") ?? 0
            }
            return 0
        }
        return (field("VmHWM:"), field("VmRSS:"))
    }
}
