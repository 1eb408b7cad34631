import Foundation
import Glibc
import Synchronization

/// A backend that serves at most `workers` requests at once; the others wait inside it (as a
/// thread pool behind its accept queue does), so its latency is its queue plus its service time.
///
/// Keep-alive HTTP/1.1, a thread per connection, `200 ok` with a length. The test may change
/// `workers` and `serviceMicros` while it runs; `peakInside` is the most requests it held at
/// once since the last `resetPeak()`.
final class WorkerPoolBackend: @unchecked Sendable {
    let port: Int
    private let fd: Int32
    private let stopped = Atomic<Bool>(false)
    private let slots = NSCondition()
    private var busy = 0
    private var limit: Int
    private let service: Atomic<Int>
    private let inside = Atomic<Int>(0)
    private let peak = Atomic<Int>(0)

    init(workers: Int, serviceMicros: Int) throws {
        limit = workers
        service = Atomic(serviceMicros)
        (fd, port) = listenOnLoopback(backlog: 256)
        Thread { [self] in acceptLoop() }.start()
    }

    deinit { stop() }

    func stop() {
        if !stopped.exchange(true, ordering: .relaxed) {
            Glibc.shutdown(fd, Int32(SHUT_RDWR))
            Glibc.close(fd)
        }
    }

    var serviceMicros: Int {
        get { service.load(ordering: .relaxed) }
        set { service.store(newValue, ordering: .relaxed) }
    }

    var workers: Int {
        get { slots.withLock { limit } }
        set {
            slots.withLock { limit = newValue }
            slots.broadcast()
        }
    }

    var peakInside: Int { peak.load(ordering: .relaxed) }
    func resetPeak() { peak.store(inside.load(ordering: .relaxed), ordering: .relaxed) }

    private func acceptLoop() {
        while !stopped.load(ordering: .relaxed) {
            let c = accept(fd, nil, nil)
            if c < 0 { return }
            Thread { [self] in serve(c) }.start()
        }
    }

    private func serve(_ c: Int32) {
        var seen: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 16384)
        let reply = Array("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".utf8)
        while !stopped.load(ordering: .relaxed) {
            let n = buf.withUnsafeMutableBytes { recv(c, $0.baseAddress!, $0.count, 0) }
            if n <= 0 { break }
            seen.append(contentsOf: buf[0..<n])
            while let r = seen.firstRange(of: Array("\r\n\r\n".utf8)) {
                seen.removeSubrange(0..<r.upperBound)
                handleOne()
                _ = reply.withUnsafeBytes { send(c, $0.baseAddress!, $0.count, Int32(MSG_NOSIGNAL)) }
            }
        }
        close(c)
    }

    /// Waits for a worker, serves (sleeps the service time), frees the worker.
    private func handleOne() {
        let now = inside.wrappingAdd(1, ordering: .relaxed).newValue
        var p = peak.load(ordering: .relaxed)
        while now > p, !peak.compareExchange(expected: p, desired: now, ordering: .relaxed).exchanged {
            p = peak.load(ordering: .relaxed)
        }
        slots.lock()
        while busy >= limit { slots.wait() }
        busy += 1
        slots.unlock()
        usleep(UInt32(serviceMicros))
        slots.lock()
        busy -= 1
        slots.unlock()
        slots.signal()
        inside.wrappingSubtract(1, ordering: .relaxed)
    }
}
