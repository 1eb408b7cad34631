/// The adaptive concurrency limit of one backend (`limits.adaptive`), Gradient2-like: the limit
/// follows the ratio of the backend's unloaded latency to its recent latency.
///
/// Every interval (about 100 ms, longer while fewer than `minSamples` responses arrived) the
/// caller hands over the interval's latency samples as a count and a sum:
///
/// - `recent` = the interval's mean latency; in-flight ≈ sum / elapsed (Little's law).
/// - `minLatency` (the unloaded latency) falls at once to a lower `recent`, and rises only
///   (a) slowly, by `elapsed / driftTime` of the gap (time constant 120 s; the gap counted at
///   most as large as the minimum, so never faster than 0.83% a second), or (b) at once to
///   `recent` when the latency did not follow a cut: the limit is a quarter or more below the
///   highest of the last 20 intervals while the latency stayed within ±10% of what it was
///   then in every interval since, the limit being in use (in-flight ≥ 80% of it) then and
///   now. A queue shrinks when fewer requests are let in; a slower backend does not, so (b)
///   tells "the backend became slower" (a new normal, accepted within a second or two) from
///   "the backend queues" (cut further). Every interval in between counts, not only the two
///   ends: a cut the latency followed, then a slower service time, can bring the latency back
///   to where it was (measured: 66 ms at a limit of 13.9 on 4 workers, 35 ms at 7.3, then
///   71 ms at 7.1 at 40 ms a request instead of 20), and the ends alone took that for
///   "slower" and raised the limit to 13. The limit, not the in-flight estimate, is compared:
///   the estimate is noisy (a few responses more or less per interval) and would fire (b) by
///   chance. After (b) the history is forgotten, so it needs a fresh cut to fire again. At
///   the floor, nothing lower can be tried: `recent` is the new normal too.
/// - `gradient = clamp(minLatency / recent, 0.5, 1.0)`,
///   `target = limit × gradient + √limit` (the square root is the headroom: a queue of
///   √limit is tolerated, so a steady backend sits at about its concurrency + √it).
/// - A lower target is approached by `smoothing` (0.2) of the way per interval; a higher one
///   is taken whole, but only while at least half of the limit is in use (an idle backend's
///   limit does not climb to the maximum and then let a burst flood it).
/// - Clamped to `[min(4, maximum), maximum]`; it starts at the floor, so the first latency
///   measured is an unloaded one (from 4 it reaches 200 in about 2.5 s of sustained load).
///
/// Unlike Envoy's adaptive concurrency filter, there is no periodic probing: Envoy drops the
/// limit to `min_concurrency` every `min_rtt_calc_interval` to re-measure the unloaded
/// latency, and its users report bursts of 503s from those windows. Here the minimum is
/// re-learned from the cuts the gradient makes anyway and from the slow drift; the price is
/// that a queue that never shrinks (constant overload) is slowly accepted as normal: on a
/// backend serving 16 at once, the limit creeps from 21 to 29 over 3 minutes of it.
///
/// A value type with no clock of its own: time comes in as `elapsed`. Owned by one thread
/// (the backend's tuner); an update costs a few floating-point operations and two scans of 20.
package struct AdaptiveConcurrency: Sendable {
    /// The lowest limit (or `maximum`, when that is lower).
    package static let floor = 4
    /// How often the tuner looks at the samples (ns).
    package static let interval: UInt64 = 100_000_000
    /// An interval with fewer responses changes nothing (the tuner waits up to `maxInterval`).
    package static let minSamples = 20
    /// Samples older than this are dropped if still too few (ns).
    package static let maxInterval: UInt64 = 1_000_000_000
    /// Share of the way to a lower target taken per interval.
    package static let smoothing = 0.2
    /// Time constant of the slow upward drift of the minimum latency (ns). Slow, because the
    /// drift also accepts a standing queue as normal (30 s let a 16-worker backend's limit
    /// reach 62 in 3 minutes of constant overload; 120 s: 29).
    package static let driftTime = 120_000_000_000.0
    /// Intervals remembered for the "latency did not follow a cut" test (about 2 s: a backend
    /// that only became slower is cut ever more slowly towards the gradient's fixed point, and
    /// from 8 a cut takes about 12 intervals to reach a quarter, more than a 1 s memory holds).
    static let historyLength = 20

    /// `limits.max_requests_per_backend`.
    package private(set) var maximum: Int
    /// The limit, unrounded.
    package private(set) var value: Double
    /// The unloaded latency (ns); 0 until the first interval with enough samples.
    package private(set) var minLatency = 0.0
    /// The last intervals' limit (0: not in use, or forgotten) and latency, oldest overwritten first.
    private var limitHistory: [Double]
    private var latencyHistory: [Double]
    private var next = 0

    package init(maximum: Int) {
        self.maximum = max(1, maximum)
        value = Double(min(Self.floor, self.maximum))
        limitHistory = Array(repeating: 0, count: Self.historyLength)
        latencyHistory = Array(repeating: 0, count: Self.historyLength)
    }

    /// The limit to enforce now.
    package var limit: Int { Int(value.rounded()) }

    /// A reload changed `max_requests_per_backend`: the limit is clamped to it at once.
    package mutating func setMaximum(_ m: Int) {
        maximum = max(1, m)
        value = min(max(value, lowest), Double(maximum))
    }

    private var lowest: Double { Double(min(Self.floor, maximum)) }

    /// One interval: `samples` latencies summing to `latencySum` ns, over `elapsed` ns.
    /// Returns the new limit; too few samples change nothing.
    @discardableResult
    package mutating func update(samples: Int, latencySum: UInt64, elapsed: UInt64) -> Int {
        guard samples >= Self.minSamples, elapsed > 0 else { return limit }
        let recent = max(1, Double(latencySum) / Double(samples))
        let inflight = Double(latencySum) / Double(elapsed)
        let inUse = inflight >= value * 0.8
        if minLatency == 0 || recent < minLatency {
            minLatency = recent
        } else {
            // The gap counts up to the minimum itself: +0.083% per interval at most, whatever the gap.
            minLatency += min(recent - minLatency, minLatency) * min(1, Double(elapsed) / Self.driftTime)
            if inUse && didNotFollowCut(latency: recent) {
                minLatency = recent
                for i in 0..<Self.historyLength { limitHistory[i] = 0 }
            } else if value <= lowest {
                minLatency = recent
            }
        }
        limitHistory[next] = inUse ? value : 0
        latencyHistory[next] = recent
        next = (next + 1) % Self.historyLength
        let gradient = min(1, max(0.5, minLatency / recent))
        let target = value * gradient + value.squareRoot()
        if target < value {
            value += (target - value) * Self.smoothing
        } else if inflight >= value / 2 {
            value = target
        }
        value = min(max(value, lowest), Double(maximum))
        return limit
    }

    /// The limit (in use now) is at most 3/4 of the highest remembered one in use while the
    /// latency stayed within 10% of that interval's in every interval since, this one too: the
    /// latency is not a queue. Every interval, not only the two ends: a cut the latency
    /// followed (the queue shrank) and then a slower backend can bring the latency back to
    /// where it was, which the ends alone take for "did not follow". (A latency that rose
    /// while fewer requests were let in is no sign: the backend may have lost capacity.)
    private func didNotFollowCut(latency: Double) -> Bool {
        let n = Self.historyLength
        var peak = next  // the oldest; of equal limits, the latest
        for k in 1..<n where limitHistory[(next + k) % n] >= limitHistory[peak] { peak = (next + k) % n }
        let before = limitHistory[peak]
        guard before > 0, value <= before * 0.75 else { return false }
        let then = latencyHistory[peak]
        let within = { (l: Double) in l >= then * 0.9 && l <= then * 1.1 }
        guard within(latency) else { return false }
        var i = (peak + 1) % n
        while i != next {
            if !within(latencyHistory[i]) { return false }
            i = (i + 1) % n
        }
        return true
    }
}
