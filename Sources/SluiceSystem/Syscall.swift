import CSluiceLinux
import Glibc

/// A failed system call: the call's name and errno.
///
/// Public: the throwing entry points of `SluiceProxy` and `SluiceBackend` (`ProxyServer.start()`,
/// `DemoBackend.start(port:)`) throw it.
public struct SystemError: Error, CustomStringConvertible, Sendable {
    public let call: StaticString
    public let errno: Int32

    @usableFromInline package init(call: StaticString, errno: Int32) {
        self.call = call
        self.errno = errno
    }

    public var description: String {
        "\(call): \(String(cString: strerror(errno))) (errno \(errno))"
    }
}

/// The outcome of a non-blocking call: a value, or "try again when ready".
@usableFromInline package enum IOResult<T>: Sendable where T: Sendable {
    case done(T)
    case wouldBlock
}

/// Runs one system call the way every call in Sluice runs.
///
/// EINTR is retried, EAGAIN becomes `.wouldBlock`, EBADF and EFAULT trap (they are
/// bugs in Sluice, not conditions), anything else throws `SystemError`.
/// `@inline(__always)` keeps errno readable right after the call; `@inlinable` lets the
/// socket calls of other modules inline it as before (a `package` function is not inlined
/// across modules otherwise: default cross-module optimization serializes public ones only).
@inlinable @inline(__always)
package func syscall(_ name: StaticString, _ body: () -> Int) throws(SystemError) -> IOResult<Int> {
    while true {
        let rc = body()
        if rc >= 0 { return .done(rc) }
        let err = csluice_errno()
        switch err {
        case EINTR: continue
        case EAGAIN, EINPROGRESS: return .wouldBlock
        case EBADF, EFAULT: fatalError("\(name) failed with a programming error: errno \(err)")
        default: throw SystemError(call: name, errno: err)
        }
    }
}

/// Like `syscall` for calls that cannot would-block (setup calls).
@inlinable @inline(__always)
package func syscallValue(_ name: StaticString, _ body: () -> Int) throws(SystemError) -> Int {
    switch try syscall(name, body) {
    case .done(let v): return v
    case .wouldBlock: throw SystemError(call: name, errno: EAGAIN)
    }
}
