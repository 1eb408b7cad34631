import CSluiceLinux
import Glibc

/// Starting and watching a child process, for the binary upgrade (docs/high-availability.md).
package enum ChildProcess {
    /// Starts `path` with `arguments` (argv[1...]) and `environment` ("NAME=value"), with only
    /// the descriptors `fds` open besides 0-2, renumbered 3, 4, ... in that order. Signal mask
    /// empty, dispositions default (the child sets up its own).
    ///
    /// ETXTBSY ("Text file busy": the file is still open for writing somewhere, by an installer
    /// that has not closed it yet or by a child another process is just starting, which holds
    /// a copy of that descriptor until its exec) is retried every 20 ms for up to
    /// `busyRetries` tries, then thrown like any other error.
    package static func spawn(
        path: String, arguments: [String], environment: [String], fds: [Int32], busyRetries: Int = 25
    ) throws(SystemError) -> pid_t {
        var argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) }
        argv.append(nil)
        var envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup($0) }
        envp.append(nil)
        defer {
            for p in argv { free(p) }
            for p in envp { free(p) }
        }
        var pid: pid_t = 0
        var tries = 0
        while true {
            let err = fds.withUnsafeBufferPointer { f in
                csluice_spawn(path, &argv, &envp, f.baseAddress, Int32(f.count), &pid)
            }
            if err == 0 { return pid }
            tries += 1
            guard err == ETXTBSY, tries < busyRetries else { throw SystemError(call: "posix_spawn", errno: err) }
            usleep(20_000)
        }
    }

    /// How a child ended, if it has (waitpid without blocking): `exited(code)` or `signalled(n)`.
    package enum Ending: Equatable, CustomStringConvertible {
        case exited(Int32)
        case signalled(Int32)

        package var description: String {
            switch self {
            case .exited(let c): "exited with status \(c)"
            case .signalled(let s): "killed by signal \(s)"
            }
        }
    }

    /// Reaps `pid` if it has ended; nil while it runs.
    package static func reap(_ pid: pid_t) -> Ending? {
        var status: Int32 = 0
        guard waitpid(pid, &status, WNOHANG) == pid else { return nil }
        // WIFEXITED / WEXITSTATUS / WTERMSIG, which Swift does not import as macros.
        if status & 0x7f == 0 { return .exited((status >> 8) & 0xff) }
        return .signalled(status & 0x7f)
    }

    /// A pipe, both ends close-on-exec: (read, write).
    package static func pipe() throws(SystemError) -> (read: Int32, write: Int32) {
        var fds: [Int32] = [0, 0]
        _ = try syscallValue("pipe2") { Int(csluice_pipe2(&fds, O_CLOEXEC)) }
        return (fds[0], fds[1])
    }

    /// Writes all of `bytes` to a blocking descriptor (false when the reader went away).
    package static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + off, $0.count - off) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return false }
            off += n
        }
        return true
    }

    /// Reads a blocking descriptor to its end.
    package static func readAll(_ fd: Int32, limit: Int = 64 << 20) -> [UInt8]? {
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while out.count <= limit {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { return nil }
            if n == 0 { return out }
            out.append(contentsOf: chunk[0..<n])
        }
        return nil
    }

    /// Sets or clears FD_CLOEXEC.
    package static func setCloseOnExec(_ fd: Int32, _ on: Bool) {
        let flags = fcntl(fd, F_GETFD)
        guard flags >= 0 else { return }
        _ = fcntl(fd, F_SETFD, on ? flags | FD_CLOEXEC : flags & ~FD_CLOEXEC)
    }

    /// True when `fd` is an open socket that listens (an inherited listener is checked first).
    package static func isListeningSocket(_ fd: Int32) -> Bool {
        var v: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) == 0 && v != 0
    }
}
