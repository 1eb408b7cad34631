import CSluiceLinux
import Glibc

/// epoll(7), each call through `syscall(_:_:)`.
///
/// Every call is an `@inline(never)` static taking only integers and pointers, so no
/// retain or release can run between the call and the read of errno (swift-nio's
/// `Linux.swift` does the same). Which failures a caller can meet, and what they mean,
/// is said per call; EBADF and EFAULT always trap (the helper's rule: they are bugs).
/// Any thread, but an epoll descriptor is used by the one loop that owns it.
package enum Epoll {
    package static let readable = csluice_EPOLLIN()
    package static let writable = csluice_EPOLLOUT()
    package static let peerHangup = csluice_EPOLLRDHUP()
    package static let hangup = csluice_EPOLLHUP()
    package static let error = csluice_EPOLLERR()
    package static let edgeTriggered = csluice_EPOLLET()

    /// `epoll_create1(EPOLL_CLOEXEC)`. Fails with EMFILE, ENFILE or ENOMEM: out of descriptors or memory.
    @inline(never)
    package static func create() throws(SystemError) -> Int32 {
        Int32(try syscallValue("epoll_create1") { Int(epoll_create1(Int32(EPOLL_CLOEXEC))) })
    }

    /// `EPOLL_CTL_ADD`. Fails with EEXIST (already in the set), EPERM (a descriptor epoll
    /// cannot watch, such as a regular file), ENOMEM, or ENOSPC (`max_user_watches` reached).
    @inline(__always)
    package static func add(_ epfd: Int32, _ fd: Int32, events: UInt32, data: UInt64) throws(SystemError) {
        try control(epfd, EPOLL_CTL_ADD, fd, events: events, data: data)
    }

    /// `EPOLL_CTL_MOD`. Fails only with ENOENT (`fd` is not in the set: it was closed and its
    /// number reused) or EINVAL; the kernel allocates nothing for a modification.
    @inline(__always)
    package static func modify(_ epfd: Int32, _ fd: Int32, events: UInt32, data: UInt64) throws(SystemError) {
        try control(epfd, EPOLL_CTL_MOD, fd, events: events, data: data)
    }

    /// `EPOLL_CTL_DEL`. Fails only with ENOENT (`fd` is not in the set) or EINVAL.
    @inline(__always)
    package static func remove(_ epfd: Int32, _ fd: Int32) throws(SystemError) {
        try control(epfd, EPOLL_CTL_DEL, fd, events: 0, data: 0)
    }

    /// `epoll_ctl` itself, the one place the three operations run.
    @inline(never)
    static func control(_ epfd: Int32, _ op: Int32, _ fd: Int32, events: UInt32, data: UInt64) throws(SystemError) {
        var ev = epoll_event()
        ev.events = events
        ev.data.u64 = data
        _ = try syscallValue("epoll_ctl") { Int(epoll_ctl(epfd, op, fd, &ev)) }
    }

    /// `epoll_wait`: the number of events written to `events`. Blocks up to `timeoutMillis`
    /// (-1: forever). EINTR (a stop and continue, a debugger; every other signal is blocked)
    /// restarts the wait with the same timeout. Fails otherwise only with EINVAL.
    @inline(never)
    package static func wait(_ epfd: Int32, into events: borrowing Events, timeoutMillis: Int32) throws(SystemError) -> Int {
        let base = events.base
        let capacity = Int32(events.capacity)
        return try syscallValue("epoll_wait") { Int(epoll_wait(epfd, base, capacity, timeoutMillis)) }
    }

    /// The array `wait` fills, allocated once and reused for every wait. One thread.
    package struct Events: ~Copyable {
        package let capacity: Int
        @usableFromInline let base: UnsafeMutablePointer<epoll_event>

        package init(capacity: Int) {
            self.capacity = capacity
            base = .allocate(capacity: capacity)
        }

        deinit { base.deallocate() }

        /// The epoll mask of event `i` of the last wait.
        @inlinable package func events(at i: Int) -> UInt32 { base[i].events }
        /// The registration's `data.u64` of event `i` of the last wait.
        @inlinable package func data(at i: Int) -> UInt64 { base[i].data.u64 }
    }
}

/// eventfd(2) as a wake-up counter, each call through `syscall(_:_:)`, `@inline(never)` as in `Epoll`.
package enum EventFD {
    /// A non-blocking, close-on-exec eventfd at 0. Fails with EMFILE, ENFILE or ENOMEM.
    @inline(never)
    package static func create() throws(SystemError) -> Int32 {
        Int32(try syscallValue("eventfd") { Int(eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))) })
    }

    /// Adds `value` to the counter. `.wouldBlock` when the counter would pass its maximum
    /// (2^64 - 2), which means a wake-up is pending anyway. Fails otherwise only with EINVAL.
    @inline(never)
    package static func write(_ fd: Int32, _ value: UInt64) throws(SystemError) -> IOResult<Void> {
        var v = value
        switch try syscall("eventfd write", { Glibc.write(fd, &v, 8) }) {
        case .done: return .done(())
        case .wouldBlock: return .wouldBlock
        }
    }

    /// Reads and resets the counter; `.wouldBlock` when it is 0. Fails otherwise only with EINVAL.
    @inline(never)
    package static func read(_ fd: Int32) throws(SystemError) -> IOResult<UInt64> {
        var v: UInt64 = 0
        switch try syscall("eventfd read", { Glibc.read(fd, &v, 8) }) {
        case .done: return .done(v)
        case .wouldBlock: return .wouldBlock
        }
    }
}

/// Closes a descriptor this process owns. EBADF traps (a double close: the number may
/// already belong to another connection). EINTR and EIO are not retried: Linux has released
/// the descriptor whatever close(2) returns, and a retry could close a reused number.
@inline(never)
package func closeDescriptor(_ fd: Int32) {
    if Glibc.close(fd) < 0 {
        let err = csluice_errno()
        if err == EBADF { fatalError("close(\(fd)) failed with a programming error: errno \(err)") }
    }
}
