/// The text of a change: the numbers that made it, rounded for people. Built only when the
/// state changes (never on a quiet observation), without Foundation.
extension StormDetector {
    func reason(to next: State, _ cause: Cause) -> String {
        let fast = "rate \(Self.rate(fastRate))/s"
        switch cause {
        case .deviation:
            return "\(fast) is \(Self.number(z, decimals: 1)) deviations above \(level)"
        case .saturation:
            let g = Self.rate(growth ?? 0)
            let c = Self.rate(capacity ?? 0)
            let eta = Self.number(etaSeconds ?? 0, decimals: 0)
            return "\(fast) grows \(g)/s each second: capacity \(c)/s in \(eta) s"
        case .multiple:
            return "\(fast) is \(against(fastRate))"
        case .surge:
            return "the last \(settings.surgeSeconds) s at \(Self.rate(surgeRate))/s, \(against(surgeRate))"
        case .quiet:
            let quiet = Self.number(settings.calmDown, decimals: 0)
            if state == .storm {
                return "under half of the storm's thresholds for \(quiet) s: \(fast) is \(against(fastRate))"
            }
            return "under half of rising's thresholds for \(quiet) s: \(fast), "
                + "\(Self.number(z, decimals: 1)) deviations from \(level)"
        }
    }

    /// "the 10-minute level 800/s".
    private var level: String {
        let t = settings.slowTimeConstant
        let name = t >= 60 && t.truncatingRemainder(dividingBy: 60) == 0 ? "\(Int(t / 60))-minute" : "\(Self.rate(t))-second"
        return "the \(name) level \(Self.rate(slowRate))/s"
    }

    /// "5.1x the 10-minute level 800/s", or the level alone when it is 0 (no ratio to give).
    private func against(_ rate: Double) -> String {
        guard slowRate > 0 else { return "over \(level)" }
        return "\(Self.number(rate / slowRate, decimals: 1))x \(level)"
    }

    /// A rate: whole numbers from 10 up, one decimal below.
    static func rate(_ x: Double) -> String { number(x, decimals: abs(x) >= 10 ? 0 : 1) }

    /// `x` rounded to `decimals` (0…3) places: "4100", "5.1", "-0.5"; "?" when not finite.
    static func number(_ x: Double, decimals: Int) -> String {
        guard x.isFinite, abs(x) < 1e15 else { return "?" }
        let places = max(0, min(3, decimals))
        var scale = 1.0
        for _ in 0..<places { scale *= 10 }
        let scaled = Int64((abs(x) * scale).rounded())
        let sign = x < 0 && scaled != 0 ? "-" : ""
        guard places > 0 else { return "\(sign)\(scaled)" }
        let unit = Int64(scale)
        var fraction = String(scaled % unit)
        while fraction.count < places { fraction = "0" + fraction }
        return "\(sign)\(scaled / unit).\(fraction)"
    }
}
