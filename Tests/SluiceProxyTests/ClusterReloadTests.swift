import Dispatch
import Foundation
import SluiceBackend
import Testing

@testable import SluiceProxy

/// A reload in the middle of exchanges: each keeps the `WorkerCluster` it was routed to, so
/// a retry budget slot goes back where it was taken and a queued waiter moves to the new
/// snapshot's cluster and is served.
@Suite(.serialized) struct ClusterReloadTests {
    /// Runs `body` on worker 0's loop thread and returns its result (the test is the control thread).
    func onWorker<T: Sendable>(_ proxy: ProxyFixture, _ body: @escaping @Sendable (Worker) -> T) -> T {
        let w = proxy.server.workers[0]
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var out: T? = nil
        w.loop.execute {
            out = body(w)
            done.signal()
        }
        done.wait()
        return out!
    }

    /// Polls `cond` on the worker's thread for up to 3 s.
    func waitOnWorker(_ proxy: ProxyFixture, _ cond: @escaping @Sendable (Worker) -> Bool) -> Bool {
        for _ in 0..<300 {
            if onWorker(proxy, cond) { return true }
            usleep(10_000)
        }
        return false
    }

    @Test func aRetryAcrossAReloadGivesItsBudgetSlotBackToItsOwnCluster() throws {
        // busy (weight 10) takes the first pick and answers 503; the retry goes to slow, which
        // answers after 600 ms: the reload lands while the retry holds its budget slot.
        let busy = try backend("busy", BackendBehavior(status: 503))
        let slow = try backend("slow", BackendBehavior(delay: 600_000_000))
        let proxy = try ProxyFixture.simple([busy, slow], cluster: "    retries: { attempts: 1, on: [503] }", weights: [10, 1])
        let client = try TestClient(port: proxy.port)
        try client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(waitOnWorker(proxy) { $0.clusters[0].retriesInFlight == 1 })
        let before = onWorker(proxy) { w in UncheckedBox(w.clusters[0]) }

        try proxy.server.reload(proxy.server.snapshot.config)
        #expect(waitOnWorker(proxy) { $0.clusters[0] !== before.value })
        #expect(onWorker(proxy) { _ in before.value.retired })
        #expect(onWorker(proxy) { $0.clusters[0].retriesInFlight } == 0)

        let r = try client.readResponse()
        #expect(r.status == 200)
        #expect(r.header("X-Backend") == "slow")
        // The slot went back to the retired cluster it was taken from, not to the new one.
        #expect(waitOnWorker(proxy) { _ in before.value.retriesInFlight == 0 })
        #expect(onWorker(proxy) { $0.clusters[0].retriesInFlight } == 0)
    }

    @Test func aWaiterMovedByAReloadIsServed() throws {
        let b = try backend("a", BackendBehavior(delay: 500_000_000))
        let proxy = try ProxyFixture.simple(
            [b], cluster: "    limits: { max_requests_per_backend: 1, max_queue: 4, queue_timeout: 5s, queue_target: 0ms }")
        let first = try TestClient(port: proxy.port)
        let second = try TestClient(port: proxy.port)
        try first.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(waitOnWorker(proxy) { $0.active.reduce(0, +) == 1 })
        try second.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(waitOnWorker(proxy) { queued($0.clusters[0]) == 1 })
        let before = onWorker(proxy) { w in UncheckedBox(w.clusters[0]) }

        try proxy.server.reload(proxy.server.snapshot.config)
        // The waiter stays in the cluster's process-wide queue, which the new cluster shares.
        #expect(waitOnWorker(proxy) { $0.clusters[0] !== before.value && queued($0.clusters[0]) == 1 })
        #expect(onWorker(proxy) { $0.clusters[0].runtime.admission === before.value.runtime.admission })

        #expect(try first.readResponse().status == 200)
        let r = try second.readResponse()
        #expect(r.status == 200, "\(r.status) \(r.text)")
        #expect(onWorker(proxy) { queued($0.clusters[0]) == 0 })
    }
}

/// Waiters in the process-wide queue of `wc`'s cluster.
func queued(_ wc: WorkerCluster) -> Int { wc.runtime.admission?.snapshot(now: 0).waiting ?? 0 }

/// Carries a loop-thread object to the test thread only to hand it back to the loop thread.
struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
