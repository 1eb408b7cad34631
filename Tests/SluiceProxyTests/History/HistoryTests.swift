import Foundation
import Testing

@testable import SluiceProxy

/// The history recorder on hand-made samples a second apart: points are the differences of
/// the counters, events are found by comparing ticks, and `/history` has the documented shape.
@Suite struct HistoryTests {
    typealias Key = MetricTotals.RequestKey

    /// Cumulative counters of a cluster `app` with a primary `a` and a standby `s`.
    struct Counters {
        var ok = 0
        var errors = 0
        var shedFull = 0
        var aOK = 0
        var a5xx = 0
        var aTimes: [Double] = []
        var times: [Double] = []
        var aState = MetricsSample.State.healthy
        var share = 0.0
        var inFlight = 0
        var queue = 0
        var backends = ["a", "s"]
    }

    static func sample(_ c: Counters, at t: Double) -> MetricsSample {
        var durations = DurationHistogram()
        for x in c.times { durations.observe(x) }
        var backends: [MetricsSample.Backend] = []
        for name in c.backends {
            var b = MetricsSample.Backend(
                name: name, address: "10.0.0.1:80", standby: name == "s", weight: 1, scaledEffectiveWeight: 100,
                state: name == "a" ? c.aState : .healthy, healthy: true, activeRequests: name == "a" ? c.inFlight : 0,
                responses: name == "a" ? [(200, c.aOK), (503, c.a5xx)] : [], checksPassed: 0, checksFailed: 0, ejections: 0,
                limit: 10)
            if name == "a" { for x in c.aTimes { b.duration.observe(x) } }
            backends.append(b)
        }
        var shed = [Int](repeating: 0, count: WorkerMetrics.shedReasons)
        shed[ShedReason.queueFull.rawValue * 3 + 1] = c.shedFull
        return MetricsSample(
            configPath: "x", generation: 1, workers: 1, startedAt: Date(timeIntervalSince1970: 0), now: Date(timeIntervalSince1970: t),
            lastReload: nil, reloadSuccesses: 0, reloadFailures: 0, lastReloadSuccess: Date(timeIntervalSince1970: 0), listeners: [],
            clusters: [
                .init(
                    name: "app", balance: "round_robin", healthChecked: true, outlierDetection: false, retries: false,
                    standbyShare: c.share, allDown: false, queueDepth: c.queue, backends: backends)
            ],
            totals: MetricTotals(
                requests: [
                    Key(listener: "web", cluster: "app", code: 200): c.ok, Key(listener: "web", cluster: "app", code: 503): c.errors,
                ],
                durations: ["app": durations], shed: ["app": shed]))
    }

    @Test func aPointIsWhatWasCountedInItsSecond() {
        let h = History()
        var c = Counters()
        c.ok = 100
        _ = h.record(Self.sample(c, at: 1000), wall: 1000, monotonic: 0)
        c.ok = 150
        c.errors = 7
        c.aOK = 40
        c.a5xx = 2
        c.times = Array(repeating: 0.002, count: 49) + [0.3]
        c.aTimes = [0.002, 0.002, 0.002, 0.004]
        c.inFlight = 3
        c.queue = 4
        c.share = 0.25
        _ = h.record(Self.sample(c, at: 1001), wall: 1001, monotonic: 1)
        let app = h.cluster("app")!
        #expect(app.points.count == 2)
        let first = app.points[0]
        // The first tick counts everything since the start.
        #expect(first.requests == 100)
        let p = app.points[1]
        #expect(p.t == 1001)
        #expect(p.c2xx == 50 && p.c5xx == 7 && p.c3xx == 0 && p.c4xx == 0)
        #expect(p.inFlight == 3 && p.queue == 4 && p.standbyShare == 0.25)
        // 49 of 50 in (0.0025, 0.005]... no: 0.002 is in (0.001, 0.0025]; p50 interpolates inside it.
        #expect(p.p50 > 0.001 && p.p50 <= 0.0025)
        #expect(p.p99 > 0.25 && p.p99 <= 0.5)
        let a = app.backends["a"]![1]
        #expect(a.present && a.requests == 42 && a.c5xx == 2 && a.inFlight == 3)
        #expect(a.p99 > 0.0025 && a.p99 <= 0.005)
        #expect(app.backends["s"]![1].requests == 0)
        #expect(app.backends["s"]![1].p50.isNaN)
    }

    @Test func theRingKeepsFifteenMinutes() {
        let h = History()
        var c = Counters()
        for i in 0..<(History.seconds + 50) {
            c.ok += i
            _ = h.record(Self.sample(c, at: Double(i)), wall: Double(i), monotonic: Double(i))
        }
        let app = h.cluster("app")!
        #expect(app.points.count == History.seconds)
        #expect(app.points[0].t == 50)
        #expect(app.points[History.seconds - 1].t == Double(History.seconds + 49))
        #expect(app.points[History.seconds - 1].c2xx == Int32(History.seconds + 49))
        #expect(app.backends["a"]!.count == History.seconds)
    }

    @Test func stateChangesFailoverAndSheddingBecomeEvents() {
        let h = History()
        var c = Counters()
        var t = 0.0
        func tick() -> [HistoryEvent] {
            t += 1
            return h.record(Self.sample(c, at: t), wall: t, monotonic: t)
        }
        #expect(tick().isEmpty)
        #expect(tick().isEmpty)
        c.aState = .unhealthy
        c.share = 0.6
        let sick = tick()
        #expect(sick.contains { $0.kind == .health && $0.backend == "a" && $0.text == "a: healthy → unhealthy" })
        #expect(sick.contains { $0.kind == .failover && $0.text.contains("60%") })
        #expect(tick().isEmpty)
        c.share = 1
        #expect(tick().map(\.kind) == [.failover])
        c.shedFull = 12
        let shed = tick()
        #expect(shed.map(\.kind) == [.shedding])
        #expect(shed.first?.text == "shedding started: 12/s (queue_full 12)")
        // Shedding goes on (no new event), then stops after 10 quiet seconds.
        c.shedFull = 20
        #expect(tick().isEmpty)
        var stopped: [HistoryEvent] = []
        for _ in 0..<9 { stopped += tick() }
        #expect(stopped.isEmpty)
        stopped = tick()
        #expect(stopped.map(\.text) == ["shedding stopped (none for 10 s)"])
        c.aState = .ejected
        #expect(tick().map(\.kind) == [.ejection])
        #expect(h.events.count == 6)
    }

    @Test func aBackendThatJoinsIsAbsentBeforeAndOneThatLeavesIsGone() {
        let h = History()
        var c = Counters()
        c.backends = ["a"]
        _ = h.record(Self.sample(c, at: 1), wall: 1, monotonic: 1)
        _ = h.record(Self.sample(c, at: 2), wall: 2, monotonic: 2)
        c.backends = ["a", "s"]
        _ = h.record(Self.sample(c, at: 3), wall: 3, monotonic: 3)
        let ring = h.cluster("app")!.backends["s"]!
        #expect(ring.count == 3)
        #expect(!ring[0].present && !ring[1].present && ring[2].present)
        c.backends = ["s"]
        _ = h.record(Self.sample(c, at: 4), wall: 4, monotonic: 4)
        #expect(h.cluster("app")!.backends["a"] == nil)
        #expect(h.cluster("app")!.backendNames == ["s"])
    }

    @Test func theDocumentHasEqualColumnsAndHonoursSince() throws {
        let h = History()
        var c = Counters()
        for i in 1...30 {
            c.ok += 10
            c.aOK += 10
            _ = h.record(Self.sample(c, at: 1000 + Double(i)), wall: 1000 + Double(i), monotonic: Double(i))
        }
        h.note(HistoryEvent(t: 1020.5, kind: .reload, text: "reload failed: x.yaml:3: \"</script>\""))
        let doc = HistoryDocument(history: h, snapshotGeneration: 4, now: 1030)
        let all = try #require(try JSONSerialization.jsonObject(with: doc.json(.seconds(900))) as? [String: Any])
        #expect(all["generation"] as? Int == 4)
        let clusters = try #require(all["clusters"] as? [[String: Any]])
        let points = try #require(clusters.first?["points"] as? [String: Any])
        let t = try #require(points["t"] as? [Double])
        #expect(t.count == 30)
        for key in ["2xx", "3xx", "4xx", "5xx", "shed", "p50", "p99", "in_flight", "queue", "standby_share", "state"] {
            #expect((points[key] as? [Any])?.count == 30, "column \(key)")
        }
        #expect((points["2xx"] as? [Int])?.last == 10)
        let backends = try #require(clusters.first?["backends"] as? [[String: Any]])
        #expect(backends.map { $0["name"] as? String } == ["a", "s"])
        #expect(backends.map { $0["tier"] as? String } == ["primary", "standby"])
        #expect(backends[0]["address"] as? String == "10.0.0.1:80" && backends[0]["weight"] as? Int == 1)
        #expect(((backends[0]["points"] as? [String: Any])?["requests"] as? [Any])?.count == 30)
        let events = try #require(all["events"] as? [[String: Any]])
        #expect(events.first?["text"] as? String == "reload failed: x.yaml:3: \"</script>\"")
        // The raw text never has a closing script tag, whatever a name or an error says.
        #expect(!String(decoding: doc.json(.seconds(900)), as: UTF8.self).contains("</script>"))

        let since = try #require(try JSONSerialization.jsonObject(with: doc.json(.since(1025))) as? [String: Any])
        let sincePoints = try #require((since["clusters"] as? [[String: Any]])?.first?["points"] as? [String: Any])
        #expect((sincePoints["t"] as? [Double]) == [1026, 1027, 1028, 1029, 1030])
        #expect((since["events"] as? [Any])?.count == 0)
        let last10 = try #require(try JSONSerialization.jsonObject(with: doc.json(.seconds(10))) as? [String: Any])
        #expect((((last10["clusters"] as? [[String: Any]])?.first?["points"] as? [String: Any])?["t"] as? [Double])?.count == 10)
    }

    @Test func theQueryIsRead() {
        #expect(HistoryDocument.window(query: "") == .seconds(900))
        #expect(HistoryDocument.window(query: "seconds=60") == .seconds(60))
        #expect(HistoryDocument.window(query: "seconds=5000") == .seconds(900))
        #expect(HistoryDocument.window(query: "since=1764671234.5") == .since(1_764_671_234.5))
        #expect(HistoryDocument.window(query: "seconds=0") == nil)
        #expect(HistoryDocument.window(query: "since=nan") == nil)
        #expect(HistoryDocument.window(query: "seconds=abc") == nil)
    }

    @Test func quantilesInterpolateInsideTheirBucket() {
        var b = [Int](repeating: 0, count: DurationHistogram.bounds.count + 1)
        #expect(DurationHistogram.quantile(0.5, b).isNaN)
        b[0] = 10  // all ≤ 1 ms
        #expect(abs(DurationHistogram.quantile(0.5, b) - 0.0005) < 1e-9)
        b[DurationHistogram.bounds.count] = 10  // half past the last bound
        #expect(DurationHistogram.quantile(0.99, b) == DurationHistogram.bounds.last)
    }
}

/// A `t` printed by `/history` and sent back as `since` excludes exactly that point and event.
@Suite struct HistorySinceTests {
    @Test func aPrintedTimeSentBackExcludesItsOwnPoint() throws {
        let h = History()
        var c = HistoryTests.Counters()
        var printed: [Double] = []
        for i in 0..<50 {
            c.ok += 1
            let wall = 1_796_214_700 + Double(i) * 1.000_37 + 0.000_4
            _ = h.record(HistoryTests.sample(c, at: wall), wall: wall, monotonic: Double(i))
            h.note(HistoryEvent(t: wall + 0.123_456, kind: .reload, text: "r\(i)"))
        }
        let doc = HistoryDocument(history: h, snapshotGeneration: 1, now: h.cluster("app")!.points.last!.t)
        let all = try #require(try JSONSerialization.jsonObject(with: doc.json(.seconds(900))) as? [String: Any])
        printed = try #require(((all["clusters"] as? [[String: Any]])?.first?["points"] as? [String: Any])?["t"] as? [Double])
        let events = try #require((all["events"] as? [[String: Any]])?.compactMap { $0["t"] as? Double })
        for (i, t) in printed.enumerated() {
            let after = try #require(try JSONSerialization.jsonObject(with: doc.json(.since(t))) as? [String: Any])
            let ts = (((after["clusters"] as? [[String: Any]])?.first?["points"] as? [String: Any])?["t"] as? [Double]) ?? []
            #expect(ts.count == printed.count - i - 1, "since=\(t)")
            #expect(ts.first.map { $0 > t } ?? true)
        }
        for (i, t) in events.enumerated() {
            let after = try #require(try JSONSerialization.jsonObject(with: doc.json(.since(t))) as? [String: Any])
            #expect((after["events"] as? [Any])?.count == events.count - i - 1, "since=\(t)")
        }
    }
}
