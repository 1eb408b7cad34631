import CSluiceLinux
import Glibc

/// Signals delivered through a signalfd instead of asynchronous handlers.
///
/// The control thread owns the signalfd; nothing here runs in a signal handler.
package enum Signals {
    package static let hangup = SIGHUP
    package static let terminate = SIGTERM
    package static let interrupt = SIGINT
    package static let user1 = SIGUSR1
    package static let user2 = csluice_SIGUSR2()

    /// Blocks HUP, TERM, INT, USR1, USR2 and PIPE in the calling thread and every thread it starts
    /// later; returns a non-blocking signalfd that reads HUP, TERM, INT, USR1 and USR2.
    /// Call before starting any thread.
    package static func blockAndOpenFD() throws(SystemError) -> Int32 {
        var set = sigset_t()
        _ = csluice_block_signals(&set)
        sigdelset(&set, SIGPIPE)
        return Int32(try syscallValue("signalfd") { Int(signalfd(-1, &set, Int32(SFD_NONBLOCK | SFD_CLOEXEC))) })
    }

    /// Reads one pending signal number from a signalfd, or nil when none is pending.
    package static func next(_ fd: Int32) -> Int32? {
        var info = signalfd_siginfo()
        let n = Glibc.read(fd, &info, MemoryLayout<signalfd_siginfo>.size)
        guard n == MemoryLayout<signalfd_siginfo>.size else { return nil }
        return Int32(info.ssi_signo)
    }

    /// Waits up to `timeoutMillis` for a signal on a signalfd; nil on timeout.
    package static func wait(_ fd: Int32, timeoutMillis: Int32) -> Int32? {
        if let s = next(fd) { return s }
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        _ = poll(&pfd, 1, timeoutMillis)
        return next(fd)
    }

    /// Ignores SIGPIPE process-wide (writes use MSG_NOSIGNAL anyway; this covers stdout pipes).
    package static func ignorePipe() {
        _ = signal(SIGPIPE, SIG_IGN)
    }
}
