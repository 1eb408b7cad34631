/// The issue-10 storm cases: an open-loop load with seeded per-second noise around a baseline,
/// and (storm) a ramp to a multiple of it, held, then the baseline again; or (storm-noise)
/// the baseline noise alone. The rates are far below the backends' capacity, so nothing is
/// shed and the only thing measured is Sluice's traffic state. Pure value; any thread.
public struct StormPlan: Sendable, Codable, Equatable {
    /// Which of the two runs.
    public enum Mode: String, Sendable, Codable, CaseIterable {
        /// Baseline, ramp, surge, after.
        case storm
        /// Baseline noise only.
        case noise = "storm-noise"
    }

    public var mode: Mode
    /// Requests per second of the baseline: 400.
    public var baselineRate = 400
    /// The surge offers baseline × this: 5.
    public var factor = 5.0
    /// Each second's rate is its shape's rate × (1 + u), u uniform in ±noise: 0.1.
    public var noise = 0.1
    public var seed: UInt64 = 1
    /// Storm: seconds of baseline before the ramp (the detector's 60 s warm-up and 30 s of
    /// learning): 90. Noise: the whole run: 300.
    public var baselineSeconds = 90
    /// Seconds of the linear ramp from 1× to `factor`×: 3.
    public var rampSeconds = 3
    /// Seconds at `factor`× after the ramp: 20.
    public var surgeSeconds = 20
    /// Seconds of baseline after the surge: 40.
    public var afterSeconds = 40

    public init(mode: Mode) {
        self.mode = mode
        if mode == .noise { baselineSeconds = 300 }
    }

    /// The named stretches of the run, in order (empty ones left out).
    public var phases: [CasePhase] {
        switch mode {
        case .noise:
            return [CasePhase(name: "noise", seconds: baselineSeconds)]
        case .storm:
            return [
                CasePhase(name: "baseline", seconds: baselineSeconds), CasePhase(name: "ramp", seconds: rampSeconds, isSpike: true),
                CasePhase(name: "surge", seconds: surgeSeconds, isSpike: true), CasePhase(name: "after", seconds: afterSeconds),
            ].filter { $0.seconds > 0 }
        }
    }

    public var totalSeconds: Int { phases.reduce(0) { $0 + $1.seconds } }

    /// Second of the run at which the ramp starts (the surge's start; storm only).
    public var surgeStartSecond: Int { baselineSeconds }

    /// Second of the run at which the traffic is back at the baseline (storm only).
    public var surgeEndSecond: Int { baselineSeconds + rampSeconds + surgeSeconds }

    /// The multiple of the baseline that second `s` offers before noise: 1 in the baseline
    /// phases; in the ramp, the linear ramp's value at the middle of the second (for 1× → 5×
    /// over 3 s: 1.67, 3, 4.33); `factor` in the surge; 0 past the end.
    public func multiple(atSecond s: Int) -> Double {
        guard s >= 0, s < totalSeconds else { return 0 }
        guard mode == .storm, s >= baselineSeconds, s < surgeEndSecond else { return 1 }
        let r = s - baselineSeconds
        guard r < rampSeconds else { return factor }
        return 1 + (factor - 1) * (Double(r) + 0.5) / Double(rampSeconds)
    }

    /// Offered requests per second, one entry per second of the run, with the seeded noise.
    /// The same plan always gives the same rates.
    public var rates: [Int] {
        var g = SplitMix64(seed: seed)
        return (0..<totalSeconds).map { s in
            let u = (g.unit() * 2 - 1) * noise
            return max(0, Int((Double(baselineRate) * multiple(atSecond: s) * (1 + u)).rounded()))
        }
    }
}

/// A small seeded generator (SplitMix64): the same noise on every machine and run.
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
}
