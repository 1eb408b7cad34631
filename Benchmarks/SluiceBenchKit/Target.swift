import Foundation
import Glibc
import SluiceSystem

/// The load balancers a run can measure.
public enum TargetKind: String, CaseIterable, Sendable, Codable {
    case sluice, haproxy, nginx
}

/// A load balancer process started for a run, with the config generated for it.
///
/// All targets get the same backends, weights and per-backend concurrency limit where they
/// have one (Sluice: `limits.max_requests_per_backend`; HAProxy: `maxconn` + queue;
/// nginx: `max_conns`, which has no queue in the free version).
public final class TargetProcess {
    public let kind: TargetKind
    public let port: Int
    let process: Process

    init(kind: TargetKind, port: Int, process: Process) {
        self.kind = kind
        self.port = port
        self.process = process
    }

    public var pid: Int32 { process.processIdentifier }

    /// utime + stime in seconds, from /proc/PID/stat.
    public func cpuSeconds() -> Double {
        guard let s = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = s.lastIndex(of: ")")
        else { return 0 }
        let f = s[s.index(after: close)...].split(separator: " ")
        guard f.count > 13, let u = Double(f[11]), let k = Double(f[12]) else { return 0 }
        return (u + k) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// Peak resident memory (VmHWM) in KiB.
    public func peakRSSKiB() -> Int {
        guard let s = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return 0 }
        for l in s.split(separator: "\n") where l.hasPrefix("VmHWM:") {
            return Int(l.split(separator: " ", omittingEmptySubsequences: true)[1]) ?? 0
        }
        return 0
    }

    public func stop() {
        guard process.isRunning else { return }
        kill(pid, SIGTERM)
        let end = Date().addingTimeInterval(10)
        while process.isRunning && Date() < end { usleep(20_000) }
        if process.isRunning { kill(pid, SIGKILL) }
        process.waitUntilExit()
    }

    /// Where an executable is on PATH (or nil).
    public static func which(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") + ["/usr/sbin", "/sbin"] {
            let p = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }

    static func freePort() throws -> Int {
        let fd = try Socket.listen(try SocketAddress.resolve("127.0.0.1:0"), reusePort: false)
        defer { Socket.close(fd) }
        return try Socket.localAddress(fd).port
    }

    /// Starts `kind` before `backends` for the classic spike scenario.
    public static func launch(
        _ kind: TargetKind, backends: [String], scenario: Scenario, workers: Int, sluiceBinary: String, workDir: String
    ) throws -> Result<TargetProcess, SkipReason> {
        try launch(
            kind, config: CaseConfigs.Input(scenario: scenario), backends: backends, workers: workers, sluiceBinary: sluiceBinary,
            workDir: workDir)
    }

    /// Starts `kind` before `backends` with the config `CaseConfigs` writes for `config`;
    /// a failure with the reason when it is not installed or does not listen within 15 s.
    public static func launch(
        _ kind: TargetKind, config plan: CaseConfigs.Input, backends: [String], workers: Int, sluiceBinary: String, workDir: String
    ) throws -> Result<TargetProcess, SkipReason> {
        let port = try freePort()
        let p = Process()
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        switch kind {
        case .sluice:
            guard FileManager.default.isExecutableFile(atPath: sluiceBinary) else {
                return .failure(SkipReason(message: "sluice binary not found at \(sluiceBinary) (swift build -c release)"))
            }
            let path = workDir + "/sluice-\(plan.benchCase?.rawValue ?? "spike").yaml"
            try CaseConfigs.sluice(plan, port: port, backends: backends, workers: workers)
                .write(toFile: path, atomically: true, encoding: .utf8)
            p.executableURL = URL(fileURLWithPath: sluiceBinary)
            p.arguments = ["run", "--config", path]
        case .haproxy:
            guard let exe = which("haproxy") else {
                return .failure(SkipReason(message: "haproxy is not installed (apt-get install haproxy)"))
            }
            let path = workDir + "/haproxy-\(plan.benchCase?.rawValue ?? "spike").cfg"
            try CaseConfigs.haproxy(plan, port: port, backends: backends, workers: workers)
                .write(toFile: path, atomically: true, encoding: .utf8)
            p.executableURL = URL(fileURLWithPath: exe)
            p.arguments = ["-db", "-f", path]
        case .nginx:
            guard let exe = which("nginx") else {
                return .failure(SkipReason(message: "nginx is not installed (apt-get install nginx-light)"))
            }
            let path = workDir + "/nginx-\(plan.benchCase?.rawValue ?? "spike").conf"
            try CaseConfigs.nginx(plan, port: port, backends: backends, workers: workers, workDir: workDir)
                .write(toFile: path, atomically: true, encoding: .utf8)
            p.executableURL = URL(fileURLWithPath: exe)
            p.arguments = ["-c", path, "-p", workDir]
        }
        return try spawn(kind, process: p, port: port)
    }

    /// Runs the prepared process and waits up to 15 s for it to listen on `port`.
    static func spawn(_ kind: TargetKind, process p: Process, port: Int) throws -> Result<TargetProcess, SkipReason> {
        try p.run()
        let t = TargetProcess(kind: kind, port: port, process: p)
        let end = Date().addingTimeInterval(15)
        while Date() < end {
            if let fd = try? Socket.connect(to: try SocketAddress.resolve("127.0.0.1:\(port)")) {
                usleep(20_000)
                let ok = Socket.pendingError(fd.fd) == 0
                Socket.close(fd.fd)
                if ok { return .success(t) }
            }
            if !p.isRunning { break }
            usleep(50_000)
        }
        t.stop()
        return .failure(SkipReason(message: "\(kind.rawValue) did not start listening"))
    }
}

public struct SkipReason: Error, Sendable {
    public let message: String
}
