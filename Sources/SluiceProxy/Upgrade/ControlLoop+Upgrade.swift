import Foundation
import Glibc
import SluiceEventLoop
import SluiceSystem

/// What `sluice upgrade` reads from `PIDFILE.upgrade`: the outcome of the last upgrade.
public struct UpgradeOutcome: Codable, Equatable, Sendable {
    /// `upgraded` or `failed`.
    public var result: String
    public var reason: String?
    public var oldPid: Int32
    public var newPid: Int32?
    /// RFC 3339.
    public var at: String

    enum CodingKeys: String, CodingKey {
        case result, reason, at
        case oldPid = "old_pid"
        case newPid = "new_pid"
    }

    public static func path(pidFile: String) -> String { pidFile + ".upgrade" }
}

/// The old process's side of one upgrade: the child's pid and the pipe its answer comes on.
final class UpgradeAttempt: EventHandler {
    let pid: pid_t
    let fd: Int32
    private var line: [UInt8] = []
    private let answered: (String?) -> Void
    private(set) var isFinished = false

    init(pid: pid_t, fd: Int32, answered: @escaping (String?) -> Void) {
        self.pid = pid
        self.fd = fd
        self.answered = answered
    }

    /// Reads the answer line; nil when the pipe closed without one (the child ended).
    func handleEvent(_ events: UInt32) {
        var buf = [UInt8](repeating: 0, count: 512)
        while !isFinished {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n > 0 {
                line.append(contentsOf: buf[0..<n])
                if let nl = line.firstIndex(of: UInt8(ascii: "\n")) {
                    finish(String(decoding: line[..<nl], as: UTF8.self))
                } else if line.count > 4096 {
                    finish(String(decoding: line.prefix(200), as: UTF8.self))
                }
            } else if n == 0 {
                finish(nil)
            } else {
                if errno == EINTR { continue }
                if errno != EAGAIN { finish(nil) }
                return
            }
        }
    }

    func finish(_ text: String?) {
        guard !isFinished else { return }
        isFinished = true
        answered(text)
    }
}

/// SIGUSR2: the binary upgrade (docs/high-availability.md). Control thread.
extension ControlLoop {
    /// Starts the binary now on disk with the listening sockets and the runtime state; the
    /// answer arrives on the control loop (`upgradeAnswered`).
    func startUpgrade() {
        guard upgrade == nil else {
            server.logger.warning("upgrade already under way: SIGUSR2 ignored")
            return
        }
        guard !stopping else {
            server.logger.warning("stopping: SIGUSR2 ignored")
            return
        }
        guard let command = upgradeCommand else {
            upgradeFailed("this process was not started by the sluice binary (no command to upgrade to)", pid: nil)
            return
        }
        // The child gets, as descriptors 3, 4, ...: every listener's sockets, the admin
        // listener, then the state pipe and the ready pipe.
        var fds: [Int32] = []
        var listeners: [UpgradeState.Listener] = []
        for (name, sockets) in server.listenerFDs.sorted(by: { $0.key < $1.key }) {
            let base = Int32(3 + fds.count)
            let numbers = sockets.indices.map { base + Int32($0) }
            listeners.append(
                .init(name: name, address: server.boundAddresses[name].map { "\($0)" } ?? "", fds: numbers))
            fds.append(contentsOf: sockets)
        }
        var adminNumber: Int32?
        if let a = admin {
            adminNumber = Int32(3 + fds.count)
            fds.append(a.fd)
        }
        let statePipe: (read: Int32, write: Int32)
        let readyPipe: (read: Int32, write: Int32)
        do {
            statePipe = try ChildProcess.pipe()
            readyPipe = try ChildProcess.pipe()
        } catch {
            upgradeFailed("cannot create pipes: \(error)", pid: nil)
            return
        }
        let stateNumber = Int32(3 + fds.count)
        fds.append(statePipe.read)
        let readyNumber = Int32(3 + fds.count)
        fds.append(readyPipe.write)
        let state = server.upgradeState(listeners: listeners, admin: adminNumber)
        var env = ProcessInfo.processInfo.environment
        env[Inheritance.stateVariable] = "\(stateNumber)"
        env[Inheritance.readyVariable] = "\(readyNumber)"
        let pid: pid_t
        do {
            pid = try ChildProcess.spawn(
                path: command.path, arguments: command.arguments, environment: env.map { "\($0.key)=\($0.value)" }.sorted(),
                fds: fds)
        } catch {
            for fd in [statePipe.read, statePipe.write, readyPipe.read, readyPipe.write] { Socket.close(fd) }
            upgradeFailed("cannot start \(command.path): \(error)", pid: nil)
            return
        }
        Socket.close(statePipe.read)
        Socket.close(readyPipe.write)
        // The document may not fit in the pipe: written from a thread of its own, which ends
        // when the child has read it or has gone (EPIPE: SIGPIPE is ignored).
        let bytes = state.encoded()
        let writer = Thread {
            _ = ChildProcess.writeAll(statePipe.write, bytes)
            Socket.close(statePipe.write)
        }
        writer.name = "sluice-upgrade-state"
        writer.start()
        _ = fcntl(readyPipe.read, F_SETFL, fcntl(readyPipe.read, F_GETFL) | O_NONBLOCK)
        let attempt = UpgradeAttempt(pid: pid, fd: readyPipe.read) { [self] text in upgradeAnswered(text, pid: pid) }
        do {
            try loop.register(readyPipe.read, attempt, events: EpollEvents.readable | EpollEvents.hangup)
        } catch {
            Socket.close(readyPipe.read)
            kill(pid, SIGKILL)
            reapLater(pid)
            upgradeFailed("cannot watch the new process: \(error)", pid: pid)
            return
        }
        upgrade = attempt
        server.logger.notice(
            "upgrade: started the new binary, waiting for it to be ready",
            metadata: ["binary": "\(command.path)", "new_pid": "\(pid)", "state_bytes": "\(bytes.count)"])
        let limit = max(10_000_000_000, server.snapshot.timeouts.drain)
        loop.after(limit) { [weak attempt] in
            guard let attempt, !attempt.isFinished else { return }
            attempt.finish("failed: not ready within \(limit / 1_000_000_000) s")
        }
    }

    /// The child's answer: `ready PID` hands over; anything else (or none) is a failure and
    /// this process keeps serving.
    func upgradeAnswered(_ text: String?, pid: pid_t) {
        if let a = upgrade {
            loop.deregister(a.fd)
            Socket.close(a.fd)
        }
        upgrade = nil
        if let text, text.hasPrefix("ready") {
            upgradeSucceeded(newPid: pid)
            return
        }
        var reason: String
        if let text, text.hasPrefix("failed: ") {
            reason = String(text.dropFirst("failed: ".count))
        } else if let text {
            reason = "unexpected answer from the new process: \(text)"
        } else {
            reason = "the new process ended before it was ready"
        }
        // Give it a moment to be reaped, so the reason can say how it ended.
        for _ in 0..<20 {
            if let ending = ChildProcess.reap(pid) {
                if text == nil { reason += " (\(ending))" }
                upgradeFailed(reason, pid: pid)
                return
            }
            usleep(5_000)
        }
        kill(pid, SIGKILL)
        reapLater(pid)
        upgradeFailed(reason, pid: pid)
    }

    private func upgradeSucceeded(newPid: pid_t) {
        server.logger.notice(
            "upgrade: the new process serves; this one stops accepting and drains", metadata: ["new_pid": "\(newPid)"])
        server.history.note(
            HistoryEvent(t: Date().timeIntervalSince1970, kind: .reload, text: "upgraded: pid \(ProcessInfoLite.pid) -> \(newPid)"))
        // The admin listener first: /readyz and /status are the new process's from now on.
        admin?.close()
        admin = nil
        writeOutcome(UpgradeOutcome(result: "upgraded", reason: nil, oldPid: ProcessInfoLite.pid, newPid: newPid, at: Self.now()))
        server.beginStopping()
        server.handedOver = true
        stopping = true
        loop.stop()
    }

    private func upgradeFailed(_ reason: String, pid: pid_t?) {
        server.logger.error("upgrade failed, this process keeps serving: \(reason)")
        server.history.note(HistoryEvent(t: Date().timeIntervalSince1970, kind: .reload, text: "upgrade failed: \(reason)"))
        writeOutcome(UpgradeOutcome(result: "failed", reason: reason, oldPid: ProcessInfoLite.pid, newPid: pid, at: Self.now()))
    }

    /// Reaps a child that is being killed, without blocking the loop.
    private func reapLater(_ pid: pid_t, tries: Int = 100) {
        guard ChildProcess.reap(pid) == nil, tries > 0 else { return }
        loop.after(50_000_000) { [self] in reapLater(pid, tries: tries - 1) }
    }

    private func writeOutcome(_ o: UpgradeOutcome) {
        guard let pidFile else { return }
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        guard let data = try? e.encode(o) else { return }
        do {
            try (data + Data("\n".utf8)).write(to: URL(fileURLWithPath: UpgradeOutcome.path(pidFile: pidFile)), options: .atomic)
        } catch {
            server.logger.error("cannot write the upgrade outcome: \(error)")
        }
    }

    static func now() -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: Date())
    }
}
