import DequeModule
import SluiceEventLoop
import SluiceSystem

/// Sends HTTP/1.1 keep-alive load at a target on 127.0.0.1 from one event-loop thread.
///
/// Open loop (default): requests are due at the offered rate whether or not earlier ones were
/// answered; a due request waits for a free connection and its latency counts from when it was
/// due, so a stalled server shows up in the percentiles (no coordinated omission, as in wrk2).
/// Closed loop: each connection sends again as soon as it is answered.
/// Every request issued ends as answered, error or timeout: `issued == Σ ended`.
public final class LoadGenerator: TimerTarget {
    package var timerSlot = TimerSlot()
    let scenario: Scenario
    let address: SocketAddress
    let loop: EventLoop
    let request: [UInt8]
    var connections: [LoadConnection] = []
    var idle: [LoadConnection] = []
    var pending = Deque<UInt64>()
    var start: UInt64 = 0
    var nextIntended: UInt64 = 0
    var totalNanos: UInt64 = 0
    let timeoutNanos: UInt64
    public private(set) var issued = 0
    public private(set) var windows: [Window]
    var done = false
    /// Called once per second of the run with the second just completed (on the loop thread).
    var onSecond: ((Int) -> Void)?
    var lastReportedSecond = -1

    public init(scenario: Scenario, target: SocketAddress) throws {
        self.scenario = scenario
        self.address = target
        loop = try EventLoop()
        request = Array("GET \(scenario.path) HTTP/1.1\r\nHost: bench\r\nUser-Agent: sluice-bench\r\n\r\n".utf8)
        timeoutNanos = UInt64(scenario.timeoutMillis) * 1_000_000
        windows = Array(repeating: Window(), count: scenario.totalSeconds + scenario.timeoutMillis / 1000 + 2)
    }

    /// Runs the whole profile on the calling thread; returns when every request has ended.
    public func run(onSecond: ((Int) -> Void)? = nil) -> [Window] {
        self.onSecond = onSecond
        start = Clock.monotonicNanos()
        nextIntended = start
        totalNanos = UInt64(scenario.totalSeconds) * 1_000_000_000
        for _ in 0..<scenario.connections {
            let c = LoadConnection(generator: self)
            connections.append(c)
            c.connect()
        }
        loop.arm(self, at: start)
        loop.run()
        for c in connections { c.close() }
        return windows
    }

    func second(of t: UInt64) -> Int {
        min(Int((t &- start) / 1_000_000_000), windows.count - 1)
    }

    /// The offered rate at time `t` (piecewise by phase).
    func rate(at t: UInt64) -> Int {
        scenario.phase(atSecond: Int((t &- start) / 1_000_000_000))?.rate ?? 0
    }

    public func timerFired(now: UInt64) {
        let elapsed = now &- start
        let s = Int(elapsed / 1_000_000_000)
        if s > lastReportedSecond + 1 {
            lastReportedSecond = s - 1
            onSecond?(lastReportedSecond)
        }
        if !scenario.closedLoop && elapsed < totalNanos {
            while nextIntended <= now && nextIntended &- start < totalNanos {
                let r = rate(at: nextIntended)
                guard r > 0 else { break }
                pending.append(nextIntended)
                windows[second(of: nextIntended)].offered += 1
                issued += 1
                nextIntended &+= 1_000_000_000 / UInt64(r)
            }
        }
        expireQueued(now)
        dispatch()
        let busy = connections.contains { $0.busy }
        if elapsed >= totalNanos && pending.isEmpty && !busy || elapsed >= totalNanos + timeoutNanos + 1_000_000_000 {
            finish(now)
            return
        }
        loop.arm(self, at: now &+ 1_000_000)
    }

    /// Requests that waited longer than the timeout for a connection end as timeouts.
    func expireQueued(_ now: UInt64) {
        while let first = pending.first, now &- first > timeoutNanos {
            pending.removeFirst()
            windows[second(of: now)].timeouts += 1
        }
    }

    func dispatch() {
        if scenario.closedLoop {
            let now = loop.now
            guard now &- start < totalNanos else { return }
            while let c = idle.popLast() {
                windows[second(of: now)].offered += 1
                issued += 1
                c.send(intended: now)
            }
            return
        }
        while !pending.isEmpty, let c = idle.popLast() {
            c.send(intended: pending.removeFirst())
        }
    }

    func finish(_ now: UInt64) {
        guard !done else { return }
        done = true
        // Whatever is still queued or in flight never got an answer within the run.
        windows[second(of: now)].timeouts += pending.count
        pending.removeAll()
        for c in connections where c.busy {
            c.busy = false
            windows[second(of: now)].timeouts += 1
        }
        onSecond?(second(of: now))
        loop.stop()
    }

    // MARK: called by connections

    func becameIdle(_ c: LoadConnection) {
        idle.append(c)
        dispatch()
    }

    func answered(_ c: LoadConnection, status: Int, intended: UInt64) {
        let now = loop.now
        var w = windows[second(of: now)]
        w.byClass[max(0, min(4, status / 100 - 1))] += 1
        _ = w.latency.record(max(1, (now &- intended) / 1000))
        windows[second(of: now)] = w
    }

    func failed(_ c: LoadConnection, timeout: Bool) {
        let s = second(of: loop.now)
        if timeout { windows[s].timeouts += 1 } else { windows[s].errors += 1 }
    }

    func removeIdle(_ c: LoadConnection) {
        if let i = idle.firstIndex(where: { $0 === c }) { idle.remove(at: i) }
    }
}
