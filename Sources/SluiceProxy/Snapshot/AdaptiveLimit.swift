import SluiceBalancing
import Synchronization

/// A backend's adaptive concurrency limit (`limits.adaptive`), shared by the workers that feed
/// it latency samples and the one tuner that moves it. Lives in `BackendHealth`, so it
/// survives reloads as health does.
///
/// A sample is the time from the request fully written to the backend to its complete response
/// head (both the loop's clock), for final answers below 500 only. The head, not the end of the
/// body: the head measures the backend's queue and service, while the end of a body also
/// measures its size and how fast the client reads it.
///
/// `record` is two relaxed atomic adds (any worker thread, no allocation, no lock); `limit` is
/// one relaxed load (any thread). `tick` and `state` belong to the tuner's thread: worker
/// `id % workers`, the one that runs the backend's health checks (see `AdaptiveTuner`).
final class AdaptiveLimit: @unchecked Sendable {
    private let count = Atomic<Int>(0)
    private let latencySum = Atomic<UInt64>(0)
    private let current = Atomic<Int>(AdaptiveConcurrency.floor)
    /// The algorithm's state (tuner thread only); created at the first tick.
    private var state: AdaptiveConcurrency?
    /// When the samples were last taken out (tuner thread only).
    private var takenAt: UInt64 = 0

    /// The limit now (the caller clamps it to the configured maximum).
    @inline(__always)
    var limit: Int { current.load(ordering: .relaxed) }

    /// The algorithm's unloaded latency (ns), for tests; tuner thread.
    var minLatency: Double { state?.minLatency ?? 0 }

    /// One response head at `now` for a request fully sent at `sentAt` (0: the head came
    /// before the request ended, no sample).
    @inline(__always)
    func record(sentAt: UInt64, now: UInt64) {
        guard sentAt != 0, now > sentAt else { return }
        latencySum.wrappingAdd(now &- sentAt, ordering: .relaxed)
        count.wrappingAdd(1, ordering: .relaxed)
    }

    /// Every `AdaptiveConcurrency.interval` on the tuner's thread: takes the samples out once
    /// there are enough (or `maxInterval` passed) and publishes the new limit.
    func tick(now: UInt64, maximum: Int) {
        if state == nil {
            state = AdaptiveConcurrency(maximum: maximum)
            takenAt = now
        }
        if state!.maximum != maximum { state!.setMaximum(maximum) }
        let elapsed = now &- takenAt
        if count.load(ordering: .relaxed) >= AdaptiveConcurrency.minSamples || elapsed >= AdaptiveConcurrency.maxInterval {
            // A sample landing between the two exchanges counts in the next interval's sum
            // or count only: an error of one sample in dozens.
            let n = count.exchange(0, ordering: .relaxed)
            let sum = latencySum.exchange(0, ordering: .relaxed)
            takenAt = now
            state!.update(samples: n, latencySum: sum, elapsed: elapsed)
        }
        current.store(state!.limit, ordering: .relaxed)
    }
}
