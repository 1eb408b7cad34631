import CSluiceLinux
import Glibc
import SluiceSystem
import Synchronization

/// Receives readiness events for one registered descriptor. Loop thread only.
public protocol EventHandler: AnyObject {
    /// `events` is the epoll mask (EPOLLIN, EPOLLOUT, EPOLLRDHUP, EPOLLHUP, EPOLLERR).
    func handleEvent(_ events: UInt32)
}

/// Receives a timer it armed with `EventLoop.arm(_:at:)`. Loop thread only.
public protocol TimerTarget: AnyObject {
    /// Called once the armed deadline has passed; the target checks its own deadlines.
    func timerFired(now: UInt64)
    /// The target's place in the loop's timers; declare `var timerSlot = TimerSlot()`.
    var timerSlot: TimerSlot { get set }
}

/// One epoll loop, run by one thread.
///
/// Everything but `execute(_:)` and `stop()` must be called on the loop's own thread.
/// Registrations are edge-triggered and tagged with a per-descriptor generation so
/// an event for a closed descriptor whose number was reused in the same batch is dropped.
public final class EventLoop: @unchecked Sendable {
    public static let readable = csluice_EPOLLIN()
    public static let writable = csluice_EPOLLOUT()
    public static let hangup = csluice_EPOLLRDHUP() | csluice_EPOLLHUP()
    public static let error = csluice_EPOLLERR()

    private let epfd: Int32
    private let wakeFD: Int32
    private var handlers: [EventHandler?] = []
    private var generations: [UInt32] = []
    private var timers = TimerHeap()
    private var batchEndHooks: [() -> Void] = []
    private let tasks = Mutex<[() -> Void]>([])
    private let wakePending = Atomic<Bool>(false)
    private let stopped = Atomic<Bool>(false)
    /// Monotonic nanoseconds, refreshed once per loop iteration.
    public private(set) var now: UInt64
    /// The worker index this loop belongs to (for logs and CPU pinning).
    public let index: Int

    public init(index: Int = 0) throws(SystemError) {
        self.index = index
        epfd = Int32(try syscallValue("epoll_create1") { Int(epoll_create1(Int32(EPOLL_CLOEXEC))) })
        wakeFD = Int32(try syscallValue("eventfd") { Int(eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))) })
        now = Clock.monotonicNanos()
        var ev = epoll_event()
        ev.events = csluice_EPOLLIN()
        ev.data.u64 = UInt64.max
        _ = try syscallValue("epoll_ctl") { Int(epoll_ctl(epfd, EPOLL_CTL_ADD, wakeFD, &ev)) }
    }

    deinit {
        Glibc.close(epfd)
        Glibc.close(wakeFD)
    }

    /// Registers `fd` edge-triggered, by default for reading and hang-up.
    ///
    /// Writability is watched only on demand (`watchWritable`): a socket registered for
    /// EPOLLOUT gets an edge on every ACK that frees send space, which costs kernel time
    /// per request for nothing while writes succeed.
    public func register(_ fd: Int32, _ handler: EventHandler, events: UInt32 = readable | hangup) throws(SystemError) {
        let i = Int(fd)
        if i >= handlers.count {
            let n = max(i + 1, handlers.count * 2, 64)
            handlers.append(contentsOf: repeatElement(nil, count: n - handlers.count))
            generations.append(contentsOf: repeatElement(0, count: n - generations.count))
        }
        handlers[i] = handler
        var ev = epoll_event()
        ev.events = events | csluice_EPOLLET()
        ev.data.u64 = UInt64(UInt32(bitPattern: fd)) | (UInt64(generations[i]) << 32)
        do {
            _ = try syscallValue("epoll_ctl") { Int(epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev)) }
        } catch {
            handlers[i] = nil
            throw error
        }
    }

    /// Adds or removes EPOLLOUT interest for a registered `fd` (after a short write; after it drained).
    /// Adding it reports the socket at once if it is already writable.
    public func watchWritable(_ fd: Int32, _ on: Bool) {
        let i = Int(fd)
        guard i < handlers.count, handlers[i] != nil else { return }
        var ev = epoll_event()
        ev.events = (on ? Self.readable | Self.hangup | Self.writable : Self.readable | Self.hangup) | csluice_EPOLLET()
        ev.data.u64 = UInt64(UInt32(bitPattern: fd)) | (UInt64(generations[i]) << 32)
        _ = epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev)
    }

    /// Forgets `fd` (call before closing it); later events for it are dropped.
    public func deregister(_ fd: Int32) {
        let i = Int(fd)
        guard i < handlers.count, handlers[i] != nil else { return }
        handlers[i] = nil
        generations[i] &+= 1
        var ev = epoll_event()
        _ = epoll_ctl(epfd, EPOLL_CTL_DEL, fd, &ev)
    }

    /// Arms `target`'s timer at monotonic `deadline`, or moves it there when it is armed
    /// already (a target has at most one deadline). Fires once per arm.
    public func arm(_ target: TimerTarget, at deadline: UInt64) {
        timers.schedule(target, at: deadline)
    }

    /// Disarms `target`'s timer, so the loop no longer holds it (call when the target closes).
    public func cancelTimer(_ target: TimerTarget) {
        timers.cancel(target)
    }

    /// Timers armed now (for tests and leak checks).
    public var armedTimerCount: Int { timers.count }

    /// Runs `body` after `nanos` on this loop.
    public func after(_ nanos: UInt64, _ body: @escaping () -> Void) {
        arm(ClosureTimer(body), at: Clock.monotonicNanos() &+ nanos)
    }

    /// Runs `hook` after every batch of events (for flushing buffered output).
    public func onBatchEnd(_ hook: @escaping () -> Void) {
        batchEndHooks.append(hook)
    }

    /// Queues `task` to run on the loop thread. Any thread.
    public func execute(_ task: @escaping @Sendable () -> Void) {
        tasks.withLock { $0.append(task) }
        if !wakePending.exchange(true, ordering: .acquiringAndReleasing) {
            var one: UInt64 = 1
            _ = Glibc.write(wakeFD, &one, 8)
        }
    }

    /// Makes `run()` return after the current iteration. Any thread.
    public func stop() {
        stopped.store(true, ordering: .releasing)
        execute {}
    }

    /// Runs the loop on the calling thread until `stop()`.
    public func run() {
        let capacity = 512
        let events = UnsafeMutablePointer<epoll_event>.allocate(capacity: capacity)
        defer { events.deallocate() }
        while !stopped.load(ordering: .acquiring) {
            var timeout: Int32 = -1
            if let first = timers.first {
                let n = Clock.monotonicNanos()
                timeout = first.deadline <= n ? 0 : Int32(min((first.deadline - n + 999_999) / 1_000_000, 60_000))
            }
            let count = epoll_wait(epfd, events, Int32(capacity), timeout)
            now = Clock.monotonicNanos()
            if count > 0 {
                for k in 0..<Int(count) {
                    let ev = events[k]
                    let data = ev.data.u64
                    if data == UInt64.max {
                        runTasks()
                        continue
                    }
                    let fd = Int(UInt32(truncatingIfNeeded: data))
                    let gen = UInt32(truncatingIfNeeded: data >> 32)
                    guard fd < handlers.count, generations[fd] == gen, let h = handlers[fd] else { continue }
                    h.handleEvent(ev.events)
                }
            }
            runTimers()
            for hook in batchEndHooks { hook() }
        }
        runTasks()  // what was queued before stop() still runs
    }

    private func runTasks() {
        var one: UInt64 = 0
        _ = Glibc.read(wakeFD, &one, 8)
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
