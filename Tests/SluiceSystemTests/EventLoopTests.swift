import Foundation
import Glibc
import SluiceEventLoop
import SluiceSystem
import Testing

/// Records the events it receives and stops its loop at the first one.
final class StoppingHandler: EventHandler {
    let loop: EventLoop
    var events: [UInt32] = []
    init(_ loop: EventLoop) { self.loop = loop }
    func handleEvent(_ events: UInt32) {
        self.events.append(events)
        loop.stop()
    }
}

/// A connected pair of non-blocking Unix stream sockets.
func socketPair() -> (Int32, Int32) {
    var fds: [Int32] = [0, 0]
    let rc = socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue | SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue), 0, &fds)
    precondition(rc == 0, "socketpair failed")
    return (fds[0], fds[1])
}

/// Runs `loop` until a handler stops it, or 2 s at most (so a missing event fails, not hangs).
func runUntilStopped(_ loop: EventLoop) {
    loop.after(2_000_000_000) { loop.stop() }
    loop.run()
}

func expectSystemError(_ call: String, _ errno: Int32, _ body: () throws(SystemError) -> Void) {
    do {
        try body()
        Issue.record("expected \(call) to fail with errno \(errno)")
    } catch {
        #expect("\(error.call)" == call)
        #expect(error.errno == errno)
    }
}

@Suite struct EventLoopErrorTests {
    @Test func theEventBitLiteralsAreTheKernelsValues() {
        #expect(EpollEvents.readable == Epoll.readable)
        #expect(EpollEvents.writable == Epoll.writable)
        #expect(EpollEvents.hangup == Epoll.peerHangup | Epoll.hangup)
        #expect(EpollEvents.error == Epoll.error)
    }

    @Test func registeringAFileEpollCannotWatchThrowsEPERMAndRegistersNothing() throws {
        let loop = try EventLoop()
        let fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC)
        #expect(fd >= 0)
        defer { close(fd) }
        let handler = StoppingHandler(loop)
        expectSystemError("epoll_ctl", EPERM) { () throws(SystemError) in try loop.register(fd, handler) }
        // Nothing registered: both are no-ops rather than a trap on a descriptor epoll never had.
        loop.watchWritable(fd, true)
        loop.deregister(fd)
    }

    /// A loop with one end `a` of a socket pair registered to `handler`; `b` is the peer.
    func withRegisteredPair(_ body: (EventLoop, StoppingHandler, _ a: Int32, _ b: Int32) throws -> Void) throws {
        let loop = try EventLoop()
        let (a, b) = socketPair()
        let handler = StoppingHandler(loop)
        try loop.register(a, handler)
        defer {
            loop.deregister(a)
            close(a)
            close(b)
        }
        try body(loop, handler, a, b)
    }

    @Test func registeringTwiceThrowsEEXISTAndKeepsTheFirstHandler() throws {
        try withRegisteredPair { loop, first, a, b in
            let second = StoppingHandler(loop)
            expectSystemError("epoll_ctl", EEXIST) { () throws(SystemError) in try loop.register(a, second) }
            #expect(write(b, "x", 1) == 1)
            runUntilStopped(loop)
            #expect(first.events.count == 1)
            #expect(first.events.first.map { $0 & EpollEvents.readable != 0 } == true)
            #expect(second.events.isEmpty)
        }
    }

    @Test func watchingWritabilityReportsAWritableSocketAtOnce() throws {
        try withRegisteredPair { loop, handler, a, _ in
            loop.watchWritable(a, true)
            runUntilStopped(loop)
            #expect(handler.events.first.map { $0 & EpollEvents.writable != 0 } == true)
        }
    }

    @Test func modifyingADescriptorOutsideTheSetThrowsENOENT() throws {
        let epfd = try Epoll.create()
        defer { closeDescriptor(epfd) }
        let (a, b) = socketPair()
        defer {
            close(a)
            close(b)
        }
        expectSystemError("epoll_ctl", ENOENT) { () throws(SystemError) in
            try Epoll.modify(epfd, a, events: Epoll.readable, data: 0)
        }
        expectSystemError("epoll_ctl", ENOENT) { () throws(SystemError) in try Epoll.remove(epfd, a) }
    }

    @Test func eventFDCountsWritesAndReadsAsWouldBlockWhenEmpty() throws {
        let fd = try EventFD.create()
        defer { closeDescriptor(fd) }
        guard case .wouldBlock = try EventFD.read(fd) else {
            Issue.record("a fresh eventfd read something")
            return
        }
        _ = try EventFD.write(fd, 3)
        _ = try EventFD.write(fd, 4)
        guard case .done(let total) = try EventFD.read(fd) else {
            Issue.record("an eventfd written twice read nothing")
            return
        }
        #expect(total == 7)
        guard case .wouldBlock = try EventFD.read(fd) else {
            Issue.record("a read did not reset the counter")
            return
        }
    }

    @Test func tasksQueuedFromAnotherThreadRunOnTheLoop() throws {
        let loop = try EventLoop()
        let count = Counter()
        // A thread of its own: a task on the cooperative pool can starve while tests block in `run()`.
        Thread.detachNewThread {
            for _ in 0..<100 { loop.execute { count.value += 1 } }
            loop.stop()
        }
        loop.after(30_000_000_000) { loop.stop() }
        loop.run()
        #expect(count.value == 100)
    }

    @Test func watchingWritabilityOfADescriptorClosedBeforeDeregisterTraps() async {
        await #expect(processExitsWith: .failure) {
            let loop = try EventLoop()
            let (a, _) = socketPair()
            try loop.register(a, StoppingHandler(loop))
            close(a)
            loop.watchWritable(a, true)
        }
    }

    @Test func deregisteringADescriptorClosedFirstTraps() async {
        await #expect(processExitsWith: .failure) {
            let loop = try EventLoop()
            let (a, _) = socketPair()
            try loop.register(a, StoppingHandler(loop))
            close(a)
            loop.deregister(a)
        }
    }

    @Test func closingADescriptorTwiceTraps() async {
        await #expect(processExitsWith: .failure) {
            let fd = try EventFD.create()
            closeDescriptor(fd)
            closeDescriptor(fd)
        }
    }
}

/// A task counter touched only on the loop thread (the `run()` caller).
final class Counter: @unchecked Sendable {
    var value = 0
}
