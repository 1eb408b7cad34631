import SluiceSystem
import Synchronization

/// Receives readiness events for one registered descriptor. Loop thread only.
package protocol EventHandler: AnyObject {
    /// `events` is the epoll mask (EPOLLIN, EPOLLOUT, EPOLLRDHUP, EPOLLHUP, EPOLLERR).
    func handleEvent(_ events: UInt32)
}

/// Receives a timer it armed with `EventLoop.arm(_:at:)`. Loop thread only.
package protocol TimerTarget: AnyObject {
    /// Called once the armed deadline has passed; the target checks its own deadlines.
    func timerFired(now: UInt64)
    /// The target's place in the loop's timers; declare `var timerSlot = TimerSlot()`.
    var timerSlot: TimerSlot { get set }
}

/// The epoll event bits an `EventHandler` receives, as literals (Linux's ABI values;
/// `EventLoopTests` checks them against the C headers).
///
/// `public`, unlike the rest of this module, so that the default cross-module optimization
/// inlines them: every connection tests them on every event, and a `package` member (or a
/// constant initialised from a C call) is an out-of-line call each time.
public enum EpollEvents {
    /// EPOLLIN.
    @inlinable public static var readable: UInt32 { 0x001 }
    /// EPOLLOUT.
    @inlinable public static var writable: UInt32 { 0x004 }
    /// EPOLLRDHUP | EPOLLHUP: the peer closed its side, or both.
    @inlinable public static var hangup: UInt32 { 0x2000 | 0x010 }
    /// EPOLLERR.
    @inlinable public static var error: UInt32 { 0x008 }
}

/// One epoll loop, run by one thread.
///
/// Everything but `execute(_:)` and `stop()` must be called on the loop's own thread.
/// Registrations are edge-triggered and tagged with a per-descriptor generation so
/// an event for a closed descriptor whose number was reused in the same batch is dropped.
///
/// Failures, per call (every call goes through `Epoll` and `EventFD` in `SluiceSystem`):
/// - `init` throws when the kernel gives no epoll descriptor or eventfd (EMFILE, ENFILE,
///   ENOMEM): the worker cannot start.
/// - `register(_:_:events:)` throws (EPERM: not pollable; ENOMEM; ENOSPC: `max_user_watches`;
///   EEXIST: registered twice); the caller closes the descriptor, and any earlier
///   registration of it stays as it was.
/// - `watchWritable(_:_:)` and `deregister(_:)` trap on failure. For a descriptor the loop
///   has a handler for, EPOLL_CTL_MOD and EPOLL_CTL_DEL can fail only when it was closed
///   before `deregister` (EBADF, or ENOENT once its number is reused): a bug that would
///   otherwise leave a connection waiting for an edge that never comes, or steal the
///   events of the connection that now has the number.
/// - `epoll_wait` and the eventfd read and write can fail only with EINVAL or EBADF (bugs):
///   they trap too. A full eventfd counter (`.wouldBlock` on write) means a wake-up is
///   already pending; an empty one on read means no task was queued.
package final class EventLoop: @unchecked Sendable {

    private let epfd: Int32
    private let wakeFD: Int32
    private var handlers: [EventHandler?] = []
    private var generations: [UInt32] = []
    private var timers = TimerHeap()
    private var batchEndHooks: [() -> Void] = []
    private let tasks = TaskList()
    private let wakePending = Atomic<Bool>(false)
    private let stopped = Atomic<Bool>(false)
    /// Monotonic nanoseconds, refreshed once per loop iteration.
    package private(set) var now: UInt64
    /// The worker index this loop belongs to (for logs).
    package let index: Int

    /// `data.u64` of the eventfd's registration; descriptors carry their number and generation.
    private static let wakeTag = UInt64.max

    package init(index: Int = 0) throws(SystemError) {
        self.index = index
        epfd = try Epoll.create()
        do {
            wakeFD = try EventFD.create()
        } catch {
            closeDescriptor(epfd)
            throw error
        }
        now = Clock.monotonicNanos()
        do {
            try Epoll.add(epfd, wakeFD, events: Epoll.readable, data: Self.wakeTag)
        } catch {
            closeDescriptor(epfd)
            closeDescriptor(wakeFD)
            throw error
        }
    }

    deinit {
        closeDescriptor(epfd)
        closeDescriptor(wakeFD)
    }

    /// Registers `fd` edge-triggered, by default for reading and hang-up.
    ///
    /// Writability is watched only on demand (`watchWritable`): a socket registered for
    /// EPOLLOUT gets an edge on every ACK that frees send space, which costs kernel time
    /// per request for nothing while writes succeed. Throws the `epoll_ctl` failure (see the
    /// type's comment); `fd` is then not registered, or stays registered as before.
    package func register(_ fd: Int32, _ handler: EventHandler, events: UInt32 = EpollEvents.readable | EpollEvents.hangup)
        throws(SystemError)
    {
        let i = Int(fd)
        if i >= handlers.count {
            let n = max(i + 1, handlers.count * 2, 64)
            handlers.append(contentsOf: repeatElement(nil, count: n - handlers.count))
            generations.append(contentsOf: repeatElement(0, count: n - generations.count))
        }
        let previous = handlers[i]
        handlers[i] = handler
        do {
            try Epoll.add(epfd, fd, events: events | Epoll.edgeTriggered, data: tag(fd))
        } catch {
            handlers[i] = previous
            throw error
        }
    }

    /// Adds or removes EPOLLOUT interest for a registered `fd` (after a short write; after it drained).
    /// Adding it reports the socket at once if it is already writable. A descriptor the loop
    /// does not know is ignored; traps if `fd` was closed before `deregister` (see the type).
    package func watchWritable(_ fd: Int32, _ on: Bool) {
        let i = Int(fd)
        guard i < handlers.count, handlers[i] != nil else { return }
        let events =
            (on ? EpollEvents.readable | EpollEvents.hangup | EpollEvents.writable : EpollEvents.readable | EpollEvents.hangup)
            | Epoll.edgeTriggered
        do {
            try Epoll.modify(epfd, fd, events: events, data: tag(fd))
        } catch {
            fatalError("watchWritable(\(fd)): \(error); was the descriptor closed before deregister?")
        }
    }

    /// Forgets `fd` (call before closing it); later events for it are dropped.
    /// A descriptor the loop does not know is ignored; traps if `fd` was closed first (see the type).
    package func deregister(_ fd: Int32) {
        let i = Int(fd)
        guard i < handlers.count, handlers[i] != nil else { return }
        handlers[i] = nil
        generations[i] &+= 1
        do {
            try Epoll.remove(epfd, fd)
        } catch {
            fatalError("deregister(\(fd)): \(error); was the descriptor closed before deregister?")
        }
    }

    /// `data.u64` for `fd`: its number in the low half, its generation in the high half.
    @inline(__always)
    private func tag(_ fd: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: fd)) | (UInt64(generations[Int(fd)]) << 32)
    }

    /// Arms `target`'s timer at monotonic `deadline`, or moves it there when it is armed
    /// already (a target has at most one deadline). Fires once per arm.
    package func arm(_ target: TimerTarget, at deadline: UInt64) {
        timers.schedule(target, at: deadline)
    }

    /// Disarms `target`'s timer, so the loop no longer holds it (call when the target closes).
    package func cancelTimer(_ target: TimerTarget) {
        timers.cancel(target)
    }

    /// Timers armed now (for tests and leak checks).
    package var armedTimerCount: Int { timers.count }

    /// Runs `body` after `nanos` on this loop.
    package func after(_ nanos: UInt64, _ body: @escaping () -> Void) {
        arm(ClosureTimer(body), at: Clock.monotonicNanos() &+ nanos)
    }

    /// Runs `hook` after every batch of events (for flushing buffered output).
    package func onBatchEnd(_ hook: @escaping () -> Void) {
        batchEndHooks.append(hook)
    }

    /// Queues `task` to run on the loop thread. Any thread.
    package func execute(_ task: @escaping @Sendable () -> Void) {
        tasks.withLock { $0.append(task) }
        if !wakePending.exchange(true, ordering: .acquiringAndReleasing) {
            do {
                _ = try EventFD.write(wakeFD, 1)  // `.wouldBlock`: the counter is full, a wake-up is pending
            } catch {
                fatalError("EventLoop.execute: \(error)")
            }
        }
    }

    /// Makes `run()` return after the current iteration. Any thread.
    package func stop() {
        stopped.store(true, ordering: .releasing)
        execute {}
    }

    /// Runs the loop on the calling thread until `stop()`.
    package func run() {
        let events = Epoll.Events(capacity: 512)
        while !stopped.load(ordering: .acquiring) {
            var timeout: Int32 = -1
            if let first = timers.first {
                let n = Clock.monotonicNanos()
                timeout = first.deadline <= n ? 0 : Int32(min((first.deadline - n + 999_999) / 1_000_000, 60_000))
            }
            let count: Int
            do {
                count = try Epoll.wait(epfd, into: events, timeoutMillis: timeout)
            } catch {
                fatalError("EventLoop.run: \(error)")
            }
            now = Clock.monotonicNanos()
            if count > 0 {
                for k in 0..<count {
                    let data = events.data(at: k)
                    if data == Self.wakeTag {
                        runTasks()
                        continue
                    }
                    let fd = Int(UInt32(truncatingIfNeeded: data))
                    let gen = UInt32(truncatingIfNeeded: data >> 32)
                    guard fd < handlers.count, generations[fd] == gen, let h = handlers[fd] else { continue }
                    h.handleEvent(events.events(at: k))
                }
            }
            runTimers()
            for hook in batchEndHooks { hook() }
        }
        runTasks()  // what was queued before stop() still runs
    }

    private func runTasks() {
        do {
            _ = try EventFD.read(wakeFD)  // `.wouldBlock`: nothing was queued since the last read
        } catch {
            fatalError("EventLoop.runTasks: \(error)")
        }
        wakePending.store(false, ordering: .releasing)
        let batch = tasks.withLock { t -> [() -> Void] in
            let b = t
            t.removeAll(keepingCapacity: true)
            return b
        }
        for task in batch { task() }
    }

    private func runTimers() {
        while let first = timers.first, first.deadline <= now {
            _ = timers.popFirst()
            first.target.timerFired(now: now)
        }
    }
}

final class ClosureTimer: TimerTarget {
    var timerSlot = TimerSlot()
    let body: () -> Void
    init(_ body: @escaping () -> Void) { self.body = body }
    func timerFired(now: UInt64) { body() }
}
