import Foundation

@testable import SluiceBalancing

/// SplitMix64 (Steele, Lea and Flood, 2014): the seeded, deterministic noise of the traffic
/// shapes, so a failing seed fails the same way every time.
struct SplitMix64 {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    mutating func unit() -> Double { Double(next() >> 11) / Double(UInt64(1) << 53) }

    /// A Poisson count of mean `mean` (Knuth's product of uniforms; the shapes use small means).
    mutating func poisson(_ mean: Double) -> Double {
        let limit = exp(-mean)
        var count = -1.0
        var product = 1.0
        repeat {
            count += 1
            product *= unit()
        } while product > limit
        return count
    }
}

/// How a second's arrivals scatter around the shape's rate.
enum Noise {
    /// × (1 ± share), uniform, rounded to whole requests.
    case uniform(Double)
    /// A Poisson count with the shape's rate as its mean (a quiet site's real noise).
    case poisson
}

/// The recorded traffic shapes: requests/s at instant `u` (seconds from the shape's start).
enum Shape {
    static func flat(_ rate: Double) -> (Double) -> Double { { _ in rate } }

    /// A flash sale: `base`, then from u = 0 a straight ramp to `multiple` × `base` over
    /// `ramp` seconds, held there for `hold` seconds, then back to `base` at once.
    static func flashSale(base: Double, multiple: Double, ramp: Double, hold: Double = .infinity) -> (Double) -> Double {
        { u in
            if u > ramp + hold { return base }
            return base * (1 + (multiple - 1) * min(1, max(0, u / ramp)))
        }
    }

    /// A daily curve: `mean` × (1 + `amplitude` × sin(2π u / `period`)).
    static func daily(mean: Double, amplitude: Double, period: Double) -> (Double) -> Double {
        { u in mean * (1 + amplitude * sin(2 * Double.pi * u / period)) }
    }

    /// `multiple` × `base` during the first `seconds` seconds, `base` after.
    static func spike(base: Double, multiple: Double, seconds: Double) -> (Double) -> Double {
        { u in u < seconds ? base * multiple : base }
    }

    /// `base` growing by `perSecond` requests/s each second.
    static func growing(base: Double, perSecond: Double) -> (Double) -> Double {
        { u in base + perSecond * u }
    }
}

/// A detector fed a shape one observation a second, with the changes it made and when.
struct Replay {
    struct Event: Equatable {
        var t: Double
        var change: StormDetector.Change
        /// "calm→storm", for comparing sequences.
        var step: String { "\(change.from)→\(change.to)" }
    }

    var detector: StormDetector
    var random: SplitMix64
    var noise: Noise
    var capacity: Double?
    /// The time of the last observation (the next is one second later).
    var clock: Double
    var events: [Event] = []
    /// The highest state seen.
    var highest = StormDetector.State.calm

    init(seed: UInt64, noise: Noise, capacity: Double? = nil, start: Double = 1_000, settings: StormDetector.Settings = .init()) {
        detector = StormDetector(settings: settings)
        random = SplitMix64(seed: seed)
        self.noise = noise
        self.capacity = capacity
        clock = start
    }

    var steps: [String] { events.map(\.step) }

    /// Plays `seconds` observations of `shape` (its u = 0 at the current clock). Observation k
    /// is made at clock + k and counts the arrivals of (k − 1, k]: the shape's mean over that
    /// second (10 midpoints), with noise. Calls `each` after every observation; returns the
    /// changes this call made.
    @discardableResult
    mutating func play(
        _ seconds: Int, _ shape: (Double) -> Double, each: (Double, StormDetector) -> Void = { _, _ in }
    ) -> [Event] {
        let start = clock
        var made: [Event] = []
        for k in 1...max(1, seconds) {
            var sum = 0.0
            for i in 0..<10 { sum += shape(Double(k - 1) + (Double(i) + 0.5) / 10) }
            let rate = max(0, sum / 10)
            let arrivals: Double
            switch noise {
            case .uniform(let share): arrivals = (rate * (1 + share * (2 * random.unit() - 1))).rounded()
            case .poisson: arrivals = random.poisson(rate)
            }
            clock = start + Double(k)
            if let change = detector.observe(arrivals: arrivals, capacity: capacity, at: clock) {
                made.append(Event(t: clock, change: change))
            }
            let order = StormDetector.State.allCases
            if order.firstIndex(of: detector.state)! > order.firstIndex(of: highest)! { highest = detector.state }
            each(clock, detector)
        }
        events += made
        return made
    }
}
