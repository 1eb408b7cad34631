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

    /// Starts `kind` before `backends`; nil with a reason when it is not installed.
    public static func launch(
        _ kind: TargetKind, backends: [String], scenario: Scenario, workers: Int, sluiceBinary: String, workDir: String
    ) throws -> Result<TargetProcess, SkipReason> {
        let port = try freePort()
        let p = Process()
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        let perBackend = scenario.upstreams.isEmpty ? scenario.backendConcurrency : 1000
        switch kind {
        case .sluice:
            guard FileManager.default.isExecutableFile(atPath: sluiceBinary) else {
                return .failure(SkipReason(message: "sluice binary not found at \(sluiceBinary) (swift build -c release)"))
            }
            let path = workDir + "/sluice.yaml"
            let list = backends.enumerated().map { "      - { name: b\($0.offset + 1), address: \($0.element) }" }
            try """
            workers: \(workers)
            admin: { listen: 127.0.0.1:0 }
            access_log: { path: off }
            limits: { max_connections: 9000 }
            listeners:
              - { name: web, listen: 127.0.0.1:\(port), routes: [ { cluster: app } ] }
            clusters:
              - name: app
                backends:
            \(list.joined(separator: "\n"))
                limits: { max_requests_per_backend: \(perBackend), max_queue: 1024, queue_timeout: 1s }
            """.write(toFile: path, atomically: true, encoding: .utf8)
            p.executableURL = URL(fileURLWithPath: sluiceBinary)
            p.arguments = ["run", "--config", path]
        case .haproxy:
            guard let exe = which("haproxy") else {
                return .failure(SkipReason(message: "haproxy is not installed (apt-get install haproxy)"))
            }
            let path = workDir + "/haproxy.cfg"
            let list = backends.enumerated().map { "    server b\($0.offset + 1) \($0.element) maxconn \(perBackend)" }
            try """
            global
                nbthread \(workers)
                maxconn 9000
            defaults
                mode http
                timeout connect 2s
                timeout client 60s
                timeout server 30s
                timeout queue 1s
                option http-keep-alive
                option forwardfor
                http-reuse always
            frontend fe
                bind 127.0.0.1:\(port)
                default_backend be
            backend be
                balance roundrobin
            \(list.joined(separator: "\n"))

            """.write(toFile: path, atomically: true, encoding: .utf8)
            p.executableURL = URL(fileURLWithPath: exe)
            p.arguments = ["-db", "-f", path]
        case .nginx:
            guard let exe = which("nginx") else {
                return .failure(SkipReason(message: "nginx is not installed (apt-get install nginx-light)"))
            }
            let path = workDir + "/nginx.conf"
            let list = backends.map { "        server \($0) max_conns=\(perBackend);" }
            try """
            worker_processes \(workers);
            daemon off;
            master_process off;
            error_log /dev/null;
            pid \(workDir)/nginx.pid;
            events { worker_connections 9000; }
            http {
                access_log off;
                upstream be {
            \(list.joined(separator: "\n"))
                    keepalive 512;
                }
                server {
                    listen 127.0.0.1:\(port);
                    location / {
                        proxy_pass http://be;
                        proxy_http_version 1.1;
                        proxy_set_header Connection "";
                        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
                    }
                }
            }

            """.write(toFile: path, atomically: true, encoding: .utf8)
            p.executableURL = URL(fileURLWithPath: exe)
            p.arguments = ["-c", path, "-p", workDir]
        }
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
