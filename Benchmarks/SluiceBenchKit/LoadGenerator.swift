import DequeModule
import SluiceEventLoop
import SluiceSystem

/// Sends HTTP/1.1 keep-alive load at a target on 127.0.0.1 from one event-loop thread.
///
/// Open loop (default): requests are due at the offered rate whether or not earlier ones were
/// answered; a due request waits for a free connection and its latency counts from when it was
/// due, so a stalled server shows up in the percentiles (no coordinated omission, as in wrk2).
/// Closed loop: each connection sends again as soon as it is answered.
/// The load is one or more streams (clients), each with its own request, connections and
/// rate per second; answers are counted per second in total (`windows`) and per stream
/// group (`groupWindows`).
/// Every request issued ends as answered, error or timeout: `issued == Σ ended`.
public final class LoadGenerator: TimerTarget {
    /// One stream's due requests, idle connections and pacing. Loop thread only.
    struct Stream {
        var request: [UInt8]
        var group: Int
        var connections: Int
        /// Offered requests per second, by second of the run.
        var rates: [Int]
        var pending = Deque<UInt64>()
        var idle: [LoadConnection] = []
        var nextIntended: UInt64 = 0
    }

    package var timerSlot = TimerSlot()
    let closedLoop: Bool
    let totalSeconds: Int
    let address: SocketAddress
    let loop: EventLoop
    var streams: [Stream]
    var connections: [LoadConnection] = []
    var start: UInt64 = 0
    var totalNanos: UInt64 = 0
    let timeoutNanos: UInt64
    public private(set) var issued = 0
    public private(set) var windows: [Window]
    /// Per group (index in `groupNames`), per second.
    public private(set) var groupWindows: [[Window]]
    public let groupNames: [String]
    var done = false
    /// Called once per second of the run with the second just completed (on the loop thread).
    var onSecond: ((Int) -> Void)?
    var lastReportedSecond = -1

    /// The classic spike scenario: one stream of `scenario.path` at the rate of each phase.
    public convenience init(scenario: Scenario, target: SocketAddress) throws {
        let rates = (0..<scenario.totalSeconds).map { scenario.phase(atSecond: $0)?.rate ?? 0 }
        let one = LoadStream(group: "all", path: scenario.path, connections: scenario.connections, rates: [])
        try self.init(
            streams: [Stream(request: one.request, group: 0, connections: scenario.connections, rates: rates)], groups: ["all"],
            seconds: scenario.totalSeconds, timeoutMillis: scenario.timeoutMillis, closedLoop: scenario.closedLoop, target: target)
    }

    /// A case plan: one stream per client of the plan, open loop.
    public convenience init(plan: CasePlan, target: SocketAddress) throws {
        let groups = plan.groups
        let streams = plan.streams.enumerated().map { k, s in
            Stream(
                request: s.request, group: groups.firstIndex(of: s.group) ?? 0, connections: s.connections,
                rates: (0..<plan.totalSeconds).map { plan.rate(stream: k, second: $0) })
        }
        try self.init(
            streams: streams, groups: groups, seconds: plan.totalSeconds, timeoutMillis: plan.parameters.timeoutMillis,
            closedLoop: false, target: target)
    }

    init(streams: [Stream], groups: [String], seconds: Int, timeoutMillis: Int, closedLoop: Bool, target: SocketAddress) throws {
        self.streams = streams
        self.groupNames = groups
        self.totalSeconds = seconds
        self.closedLoop = closedLoop
        address = target
        loop = try EventLoop()
        timeoutNanos = UInt64(timeoutMillis) * 1_000_000
        let count = seconds + timeoutMillis / 1000 + 2
        windows = Array(repeating: Window(), count: count)
        groupWindows = Array(repeating: Array(repeating: Window(), count: count), count: groups.count)
    }

    /// Runs the whole profile on the calling thread; returns when every request has ended.
    public func run(onSecond: ((Int) -> Void)? = nil) -> [Window] {
        self.onSecond = onSecond
        start = Clock.monotonicNanos()
        totalNanos = UInt64(totalSeconds) * 1_000_000_000
        for k in streams.indices {
            streams[k].nextIntended = start
            for _ in 0..<streams[k].connections {
                let c = LoadConnection(generator: self, stream: k, request: streams[k].request)
                connections.append(c)
                c.connect()
            }
        }
        loop.arm(self, at: start)
        loop.run()
        for c in connections { c.close() }
        return windows
    }

    func second(of t: UInt64) -> Int {
        min(Int((t &- start) / 1_000_000_000), windows.count - 1)
    }

    public func timerFired(now: UInt64) {
        let elapsed = now &- start
        let s = Int(elapsed / 1_000_000_000)
        if s > lastReportedSecond + 1 {
            lastReportedSecond = s - 1
            onSecond?(lastReportedSecond)
        }
        if !closedLoop && elapsed < totalNanos {
            for k in streams.indices { offer(stream: k, until: now) }
        }
        expireQueued(now)
        for k in streams.indices { dispatch(k) }
        let busy = connections.contains { $0.busy }
        let pending = streams.contains { !$0.pending.isEmpty }
        if elapsed >= totalNanos && !pending && !busy || elapsed >= totalNanos + timeoutNanos + 1_000_000_000 {
            finish(now)
            return
        }
        loop.arm(self, at: now &+ 1_000_000)
    }

    /// Queues every request of stream `k` due by `now`; a second at rate 0 is skipped whole.
    func offer(stream k: Int, until now: UInt64) {
        while streams[k].nextIntended <= now && streams[k].nextIntended &- start < totalNanos {
            let t = streams[k].nextIntended
            let sec = Int((t &- start) / 1_000_000_000)
            let r = sec < streams[k].rates.count ? streams[k].rates[sec] : 0
            guard r > 0 else {
                streams[k].nextIntended = start &+ UInt64(sec + 1) * 1_000_000_000
                continue
            }
            streams[k].pending.append(t)
            windows[second(of: t)].offered += 1
            groupWindows[streams[k].group][second(of: t)].offered += 1
            issued += 1
            streams[k].nextIntended &+= 1_000_000_000 / UInt64(r)
        }
    }

    /// Requests that waited longer than the timeout for a connection end as timeouts.
    func expireQueued(_ now: UInt64) {
        for k in streams.indices {
            while let first = streams[k].pending.first, now &- first > timeoutNanos {
                streams[k].pending.removeFirst()
                countFailure(group: streams[k].group, timeout: true, at: now, sent: false)
            }
        }
    }

    func dispatch(_ k: Int) {
        if closedLoop {
            let now = loop.now
            guard now &- start < totalNanos else { return }
            while let c = streams[k].idle.popLast() {
                windows[second(of: now)].offered += 1
                groupWindows[streams[k].group][second(of: now)].offered += 1
                issued += 1
                c.send(intended: now)
            }
            return
        }
        while !streams[k].pending.isEmpty, let c = streams[k].idle.popLast() {
            c.send(intended: streams[k].pending.removeFirst())
        }
    }

    func finish(_ now: UInt64) {
        guard !done else { return }
        done = true
        // Whatever is still queued or in flight never got an answer within the run.
        for k in streams.indices {
            for _ in streams[k].pending { countFailure(group: streams[k].group, timeout: true, at: now, sent: false) }
            streams[k].pending.removeAll()
        }
        for c in connections where c.busy {
            c.busy = false
            countFailure(group: streams[c.stream].group, timeout: true, at: now)
        }
        onSecond?(second(of: now))
        loop.stop()
    }

    /// Counts a request that got no answer: a timeout (sent or never sent) or a connection error.
    func countFailure(group: Int, timeout: Bool, at now: UInt64, sent: Bool = true) {
        let s = second(of: now)
        if timeout {
            windows[s].timeouts += 1
            groupWindows[group][s].timeouts += 1
        } else {
            windows[s].errors += 1
            groupWindows[group][s].errors += 1
        }
        let o: Outcome = timeout ? (sent ? .timeout : .notSent) : .connectionError
        windows[s].record(o, retryAfter: nil, latencyMicros: nil)
        groupWindows[group][s].record(o, retryAfter: nil, latencyMicros: nil)
    }

    // MARK: called by connections

    func becameIdle(_ c: LoadConnection) {
        streams[c.stream].idle.append(c)
        dispatch(c.stream)
    }

    func answered(_ c: LoadConnection, status: Int, retryAfter: Int?, hit: Bool, intended: UInt64) {
        let now = loop.now
        let s = second(of: now)
        let g = streams[c.stream].group
        let latency = max(1, (now &- intended) / 1000)
        let cls = max(0, min(4, status / 100 - 1))
        let o = Outcome.classify(status: status, retryAfter: retryAfter)
        windows[s].byClass[cls] += 1
        _ = windows[s].latency.record(latency)
        windows[s].record(o, retryAfter: retryAfter, latencyMicros: latency, hit: hit)
        groupWindows[g][s].byClass[cls] += 1
        _ = groupWindows[g][s].latency.record(latency)
        groupWindows[g][s].record(o, retryAfter: retryAfter, latencyMicros: latency, hit: hit)
    }

    func failed(_ c: LoadConnection, timeout: Bool) {
        countFailure(group: streams[c.stream].group, timeout: timeout, at: loop.now)
    }

    func removeIdle(_ c: LoadConnection) {
        if let i = streams[c.stream].idle.firstIndex(where: { $0 === c }) { streams[c.stream].idle.remove(at: i) }
    }
}
