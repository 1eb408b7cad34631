import Foundation
import SluiceConfig
import SluiceSystem

/// The new process's side of a binary upgrade (docs/high-availability.md): the state and the
/// sockets the old process handed over, and the line that tells it how the start went.
///
/// `SLUICE_UPGRADE_STATE_FD` names a pipe with one `UpgradeState` document,
/// `SLUICE_UPGRADE_READY_FD` the pipe the answer goes to: `ready PID` or `failed: REASON`.
/// Both are removed from the environment once read, so nothing started later sees them.
public final class Inheritance: @unchecked Sendable {
    static let stateVariable = "SLUICE_UPGRADE_STATE_FD"
    static let readyVariable = "SLUICE_UPGRADE_READY_FD"

    let state: UpgradeState
    private var readyFD: Int32
    /// Listener sockets taken by `match`; the rest are closed by `closeUnused`.
    private var taken: Set<Int32> = []

    private init(state: UpgradeState, readyFD: Int32) {
        self.state = state
        self.readyFD = readyFD
    }

    /// The upgrade this process was started for, or nil for an ordinary start. Throws when the
    /// variables are set but the state cannot be read (the failure is reported to the old
    /// process by the caller through `failed`, which needs the ready pipe: see `reportOnly`).
    public static func fromEnvironment() -> Result<Inheritance, InheritanceError>? {
        let env = ProcessInfo.processInfo.environment
        guard let stateText = env[stateVariable], let readyText = env[readyVariable] else { return nil }
        unsetenv(stateVariable)
        unsetenv(readyVariable)
        guard let stateFD = Int32(stateText), let readyFD = Int32(readyText) else {
            return .failure(InheritanceError(message: "\(stateVariable)/\(readyVariable) are not descriptor numbers", readyFD: nil))
        }
        ChildProcess.setCloseOnExec(readyFD, true)
        defer { Socket.close(stateFD) }
        guard let bytes = ChildProcess.readAll(stateFD) else {
            return .failure(InheritanceError(message: "cannot read the state from the old process", readyFD: readyFD))
        }
        do {
            let state = try UpgradeState.decode(bytes)
            for l in state.listeners { for fd in l.fds { ChildProcess.setCloseOnExec(fd, true) } }
            if let a = state.admin { ChildProcess.setCloseOnExec(a, true) }
            return .success(Inheritance(state: state, readyFD: readyFD))
        } catch {
            return .failure(InheritanceError(message: "cannot decode the state from the old process: \(error)", readyFD: readyFD))
        }
    }

    /// The old process's pid.
    public var oldPid: Int32 { state.oldPid }

    /// The inherited sockets of `config`'s listeners, by name: a listener with the same name
    /// and address (or the same name, configured with port 0), or else the same address
    /// under another name, one socket per worker. Throws
    /// when a matching listener was handed over with another number of sockets (`workers`
    /// changed: its accept queues cannot be split or merged without resetting connections).
    public func match(_ config: Config) throws(UpgradeError) -> [String: [Int32]] {
        var out: [String: [Int32]] = [:]
        /// The bound address of a handed-over listener whose sockets really listen.
        func bound(_ given: UpgradeState.Listener) -> SocketAddress? {
            guard let first = given.fds.first, ChildProcess.isListeningSocket(first) else { return nil }
            return try? Socket.localAddress(first)
        }
        for l in config.listeners {
            // The same name and address (any address for port 0), else a renamed listener on the
            // same address: binding that address again would make new sockets, and the old
            // ones' queued connections would be reset when the old process closes them.
            let unclaimed = state.listeners.filter { g in !g.fds.contains { taken.contains($0) } }
            let sameName = unclaimed.first { g in g.name == l.name && bound(g).map { l.address.port == 0 || $0 == l.address } == true }
            let sameAddress = unclaimed.first { g in l.address.port != 0 && bound(g) == l.address }
            guard let given = sameName ?? sameAddress else { continue }
            guard given.fds.count == config.workers else {
                throw UpgradeError(
                    message:
                        "listener \(l.name): the running process has \(given.fds.count) workers and the new configuration \(config.workers); change workers with a restart"
                )
            }
            out[l.name] = given.fds
            taken.formUnion(given.fds)
        }
        return out
    }

    /// The inherited admin socket when it listens on `address` (any port when it says 0).
    public func adminSocket(for address: SocketAddress?) -> Int32? {
        guard let address, let fd = state.admin, ChildProcess.isListeningSocket(fd), let bound = try? Socket.localAddress(fd),
            address.port == 0 || bound == address
        else { return nil }
        taken.insert(fd)
        return fd
    }

    /// Closes the inherited sockets no listener took (the old process still drains them).
    public func closeUnused() {
        for l in state.listeners { for fd in l.fds where !taken.contains(fd) { Socket.close(fd) } }
        if let a = state.admin, !taken.contains(a) { Socket.close(a) }
    }

    /// Tells the old process this one serves; it then stops accepting and drains.
    public func ready() { answer("ready \(ProcessInfoLite.pid)\n") }

    /// Tells the old process why this one will not serve (it keeps serving).
    public func failed(_ reason: String) { answer("failed: \(reason)\n") }

    private func answer(_ line: String) {
        guard readyFD >= 0 else { return }
        _ = ChildProcess.writeAll(readyFD, Array(line.utf8))
        Socket.close(readyFD)
        readyFD = -1
    }
}

/// The state or the sockets could not be taken over: reported to the old process, which keeps serving.
public struct UpgradeError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// `fromEnvironment` failed; `readyFD` (when known) is where the old process waits for the reason.
public struct InheritanceError: Error, CustomStringConvertible {
    public let message: String
    let readyFD: Int32?
    public var description: String { message }

    /// Sends the reason to the old process.
    public func report() {
        guard let fd = readyFD else { return }
        _ = ChildProcess.writeAll(fd, Array("failed: \(message)\n".utf8))
        Socket.close(fd)
    }
}

extension ProxyServer {
    /// Takes over the runtime state of the process this one replaces; call before `start`.
    public func restore(from inheritance: Inheritance) { restore(inheritance.state) }
}
