import Foundation
import Testing

@testable import SluiceProxy

/// A worker's counters without sockets: counting by index, the carry-over across reloads (by
/// name) and the fold of workers' copies.
@Suite struct WorkerMetricsTests {
    typealias Key = MetricTotals.RequestKey

    static let codes = WorkerMetrics.codes

    func histogram(_ observations: Double...) -> DurationHistogram {
        var d = DurationHistogram()
        for s in observations { d.observe(s) }
        return d
    }

    @Test func countsTakenByIndexAreReportedUnderTheirNames() {
        var m = WorkerMetrics()
        m.reshape(listeners: ["web"], clusters: ["app", "static"], backendCount: 2)
        m.count(listener: 0, cluster: 1, code: 200, backendID: 1, seconds: 0.003, backendSeconds: 0.002)
        m.count(listener: 0, cluster: nil, code: 400, backendID: nil, seconds: nil)
        m.count(listener: 0, cluster: 0, code: 999, backendID: 0, seconds: 30)
        let t = m.totals()
        #expect(
            t.requests == [
                Key(listener: "web", cluster: "static", code: 200): 1, Key(listener: "web", cluster: "", code: 400): 1,
                Key(listener: "web", cluster: "app", code: 599): 1,
            ])
        #expect(t.durations == ["static": histogram(0.003), "app": histogram(30)])
        #expect(t.durations["static"]?.buckets[2] == 1)
        #expect(t.durations["app"]?.buckets.last == 1)
        #expect(t.backendCodes.count == 2 * Self.codes)
        #expect(t.backendCodes[1 * Self.codes + 200] == 1)
        #expect(t.backendCodes[0 * Self.codes + 599] == 1)
        // The backend's own histogram counts the answering attempt, not the whole exchange.
        #expect(t.backendDuration(1).buckets[1] == 1)
        #expect(t.backendDuration(1).count == 1)
        #expect(t.backendDuration(0).count == 0)
    }

    @Test func indicesOutsideTheCurrentShapeCountNothing() {
        var m = WorkerMetrics()
        m.reshape(listeners: ["web"], clusters: ["app"], backendCount: 1)
        m.count(listener: 1, cluster: 3, code: 200, backendID: 5, seconds: 0.1)
        m.count(listener: 0, cluster: 2, code: 200, backendID: nil, seconds: 0.1)
        m.countShed(cluster: 1, .queueFull, lane: 1)
        m.countRetry(cluster: -1, .status)
        m.countHandshake(listener: 1, ok: true)
        var empty = MetricTotals(backendCodes: Array(repeating: 0, count: Self.codes))
        empty.backendBuckets = Array(repeating: 0, count: DurationHistogram.bounds.count + 1)
        empty.backendSums = [0]
        #expect(m.totals() == empty)
    }

    /// Clusters `static` → `assets` (renamed, moved first), `app` moved second; listeners swapped.
    @Test func aReloadThatRenamesAndReordersClustersKeepsEveryCounterUnderItsName() {
        var m = WorkerMetrics()
        m.reshape(listeners: ["web", "secure"], clusters: ["app", "static"], backendCount: 3)
        m.count(listener: 0, cluster: 0, code: 200, backendID: 0, seconds: 0.25)
        m.count(listener: 0, cluster: 1, code: 404, backendID: 2, seconds: 0.5)
        m.countShed(cluster: 0, .queueFull, lane: 1)
        m.countShed(cluster: 1, .noBackend, lane: 1)
        m.countRetry(cluster: 0, .connectFailure)
        m.countHandshake(listener: 1, ok: true)
        m.countHandshake(listener: 1, ok: false)
        let before = m.totals()

        m.reshape(listeners: ["secure", "web"], clusters: ["assets", "app"], backendCount: 4)
        var after = m.totals()
        #expect(after.backendCodes.count == 4 * Self.codes, "room for the new backend")
        after.backendCodes.removeLast(Self.codes)
        after.backendBuckets.removeLast(DurationHistogram.bounds.count + 1)
        after.backendSums.removeLast()
        #expect(after == before, "the reload alone changes no count")

        m.count(listener: 1, cluster: 1, code: 200, backendID: 0, seconds: 0.25)  // web → app
        m.count(listener: 0, cluster: 0, code: 200, backendID: 3, seconds: 1)  // secure → assets
        m.countShed(cluster: 1, .queueFull, lane: 1)  // app
        m.countRetry(cluster: 0, .status)  // assets
        m.countHandshake(listener: 0, ok: true)  // secure
        // A request of the old snapshot, still on `static`, ends after the reload.
        m.countRetired(listener: "web", cluster: "static", code: 404, backendID: 2, seconds: 0.25)
        m.countRetiredShed(cluster: "static", .queueTimeout, lane: 2)  // sheddable
        m.countRetiredRetry(cluster: "static", .resetBeforeResponse)
        m.countRetiredHandshake(listener: "old", ok: false)

        let t = m.totals()
        #expect(
            t.requests == [
                Key(listener: "web", cluster: "app", code: 200): 2, Key(listener: "web", cluster: "static", code: 404): 2,
                Key(listener: "secure", cluster: "assets", code: 200): 1,
            ])
        #expect(t.durations == ["app": histogram(0.25, 0.25), "static": histogram(0.5, 0.25), "assets": histogram(1)])
        // Rows are reason × priority lane: queue_full/normal is 1, queue_timeout/sheddable 5, no_backend/normal 10.
        #expect(t.shed == ["app": [0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], "static": [0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0]])
        #expect(t.retries == ["app": [1, 0, 0], "assets": [0, 0, 1], "static": [0, 1, 0]])
        #expect(t.handshakes == ["secure": [2, 1], "old": [0, 1]])
        #expect(t.backendCodes.count == 4 * Self.codes)
        #expect(t.backendCodes[0 * Self.codes + 200] == 2)
        #expect(t.backendCodes[2 * Self.codes + 404] == 2)
        #expect(t.backendCodes[3 * Self.codes + 200] == 1)
        #expect(t.backendCodes.reduce(0, +) == 5)
    }

    @Test func theFoldAddsWorkersCopiesLabelByLabel() {
        let web200 = Key(listener: "web", cluster: "app", code: 200)
        let web503 = Key(listener: "web", cluster: "app", code: 503)
        let none400 = Key(listener: "web", cluster: "", code: 400)
        var a = MetricTotals(
            requests: [web200: 3, none400: 1], durations: ["app": histogram(0.001, 0.2)], shed: ["app": [1, 0, 0, 0]],
            retries: ["app": [0, 1, 0]], handshakes: ["secure": [4, 0]], backendCodes: [0, 7])
        let b = MetricTotals(
            requests: [web200: 2, web503: 5], durations: ["app": histogram(0.2), "static": histogram(20)],
            shed: ["app": [0, 2, 0, 0], "static": [0, 0, 0, 1]], retries: [:], handshakes: ["secure": [1, 2]],
            backendCodes: [1, 1, 9])
        a.add(b)
        #expect(a.requests == [web200: 5, none400: 1, web503: 5])
        #expect(a.durations == ["app": histogram(0.001, 0.2, 0.2), "static": histogram(20)])
        #expect(a.shed == ["app": [1, 2, 0, 0], "static": [0, 0, 0, 1]])
        #expect(a.retries == ["app": [0, 1, 0]])
        #expect(a.handshakes == ["secure": [5, 2]])
        #expect(a.backendCodes == [1, 8, 9])
    }

    @Test func workersReportsFoldTheirGaugesToo() {
        var a = WorkerReport(active: [1, 0], connections: ["web": 2])
        a.add(
            WorkerReport(
                totals: MetricTotals(requests: [Key(listener: "web", cluster: "app", code: 200): 1]), active: [0, 2, 3],
                connections: ["web": 1, "secure": 4]))
        #expect(a.active == [1, 2, 3])
        #expect(a.connections == ["web": 3, "secure": 4])
        #expect(a.totals.requests.values.reduce(0, +) == 1)
    }

    @Test func durationsFallInTheFirstBucketNotBelowThem() {
        #expect(DurationHistogram.bucket(0) == 0)
        #expect(DurationHistogram.bucket(0.001) == 0)
        #expect(DurationHistogram.bucket(0.0011) == 1)
        #expect(DurationHistogram.bucket(0.005) == 2)
        #expect(DurationHistogram.bucket(0.0051) == 3)
        #expect(DurationHistogram.bucket(10) == 12)
        #expect(DurationHistogram.bucket(10.5) == 13)
    }
}
