import CSluiceLinux
import Glibc

/// Append-only file descriptors for logs (stdout, stderr, or a file opened O_APPEND).
///
/// Writes block (a log file or a pipe); the access log calls them off the loop threads.
package enum LogFile {
    /// Opens (creating, mode 0644) `path` for appending, close-on-exec.
    package static func open(path: String) throws(SystemError) -> Int32 {
        Int32(try syscallValue("open") { Int(Glibc.open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)) })
    }

    /// Writes all of `bytes`, blocking (log files and pipes); gives up on errors.
    package static func writeAll(_ fd: Int32, _ p: UnsafeRawPointer, _ count: Int) {
        var off = 0
        while off < count {
            let n = Glibc.write(fd, p + off, count - off)
            if n > 0 {
                off += n
            } else if n < 0 && csluice_errno() == EINTR {
                continue
            } else if n < 0 && csluice_errno() == EAGAIN {
                var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                _ = poll(&pfd, 1, 100)
            } else {
                return
            }
        }
    }

    package static func close(_ fd: Int32) { _ = Glibc.close(fd) }
}
