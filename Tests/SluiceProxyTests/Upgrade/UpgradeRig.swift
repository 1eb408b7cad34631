import Foundation
import Glibc

/// A `sluice` binary copied into a folder of its own (so a test can replace it, as an operator
/// installing a new version does), started with `--pid-file`, and `sluice upgrade` on it.
/// Every process of the chain (each upgrade starts a new one) is ended by its pid at the end.
final class UpgradeRig: @unchecked Sendable {
    let dir: String
    let binary: URL
    let pidFile: String
    let sluice: SluiceProcess
    private var pids: Set<Int32> = []

    init(yaml: String, environment: [String: String] = [:]) throws {
        dir = NSTemporaryDirectory() + "sluice-upgrade-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        binary = URL(fileURLWithPath: dir + "/sluice")
        try Self.writeExecutable(binary.path, try Data(contentsOf: SluiceProcess.binary))
        pidFile = dir + "/sluice.pid"
        sluice = try SluiceProcess(yaml: yaml, binary: binary, arguments: ["--pid-file", pidFile], environment: environment)
        pids.insert(sluice.pid)
    }

    deinit {
        for pid in pids where Self.alive(pid) { kill(pid, SIGKILL) }
        for pid in pids { _ = Self.waitGone(pid, timeout: 5) }
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// The pid the pid file names now (0 when there is none).
    var currentPid: Int32 {
        Int32(((try? String(contentsOfFile: pidFile, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
    }

    /// Waits until the pid file exists (the process serves).
    func waitForPidFile(timeout: TimeInterval = 20) -> Bool {
        DiscoveryRig.until(timeout) { currentPid > 0 } != nil
    }

    /// `sluice upgrade --pid-file` with the original binary (the copy may be a broken one).
    func upgrade() throws -> (status: Int32, out: String, err: String) {
        let r = try SluiceProcess.runToEnd(["upgrade", "--pid-file", pidFile, "--timeout", "30"])
        if currentPid > 0 { pids.insert(currentPid) }
        return r
    }

    /// Puts `text` (a script) or the real binary at the binary's path, by rename (the running
    /// file is not written to, as `install` does it).
    func replaceBinary(withScript text: String?) throws {
        let staged = dir + "/sluice.staged"
        try? FileManager.default.removeItem(atPath: staged)
        try Self.writeExecutable(staged, text.map { Data($0.utf8) } ?? Data(contentsOf: SluiceProcess.binary))
        guard rename(staged, binary.path) == 0 else { throw TestClientError(description: "rename failed: \(errno)") }
    }

    /// Writes an executable file through a close-on-exec descriptor. Tests run in parallel in
    /// one process and others start children all the time: a child that inherited a writable
    /// descriptor of the file (Foundation's writers do not set O_CLOEXEC) holds it until it
    /// closes it, and exec of the file fails with ETXTBSY ("Text file busy") meanwhile, as one
    /// ThreadSanitizer run showed. Close-on-exec keeps that window to the child's own start;
    /// the old process's retry of a busy binary covers the rest.
    static func writeExecutable(_ path: String, _ data: Data) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o755)
        guard fd >= 0 else { throw TestClientError(description: "open \(path): errno \(errno)") }
        defer { close(fd) }
        try data.withUnsafeBytes { raw in
            var off = 0
            while off < raw.count {
                let n = write(fd, raw.baseAddress! + off, raw.count - off)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { throw TestClientError(description: "write \(path): errno \(errno)") }
                off += n
            }
        }
    }

    /// Ends the current process with SIGTERM and waits for it.
    func stop() {
        let pid = currentPid
        guard pid > 0 else { return }
        kill(pid, SIGTERM)
        _ = Self.waitGone(pid, timeout: 10)
    }

    /// Alive and not a zombie (an upgraded process's parent has exited; whoever reaps it may be slow).
    static func alive(_ pid: Int32) -> Bool {
        guard kill(pid, 0) == 0 else { return false }
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return false }
        let state = stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).first
        return state != "Z" && state != "X"
    }

    @discardableResult
    static func waitGone(_ pid: Int32, timeout: TimeInterval) -> Bool {
        DiscoveryRig.until(timeout) { !alive(pid) } != nil
    }
}

/// One new connection per request, `rate` a second, until stopped: a refused or failed
/// connection and any answer but 200 is an error.
final class NewConnectionLoad: @unchecked Sendable {
    private let lock = NSLock()
    private var stopFlag = false
    private var finished = false
    private(set) var ok = 0
    private(set) var errors: [String] = []

    init(port: Int, rate: Int) {
        let gap = UInt32(1_000_000 / max(rate, 1))
        Thread.detachNewThread { [self] in
            while !isStopped {
                let t0 = Date()
                do {
                    let r = try get(port, "/")
                    lock.lock()
                    if r.status == 200 { ok += 1 } else { errors.append("status \(r.status)") }
                    lock.unlock()
                } catch {
                    lock.lock()
                    errors.append("new connection: \(error)")
                    lock.unlock()
                }
                let spent = UInt32(Date().timeIntervalSince(t0) * 1_000_000)
                if spent < gap { usleep(gap - spent) }
            }
            lock.lock()
            finished = true
            lock.unlock()
        }
    }

    private var isStopped: Bool {
        lock.lock()
        defer { lock.unlock() }
        return stopFlag
    }

    func stop() {
        lock.lock()
        stopFlag = true
        lock.unlock()
        _ = DiscoveryRig.until(10) {
            lock.lock()
            defer { lock.unlock() }
            return finished
        }
    }
}
