import Foundation

/// Parsers for the units config values are written in: durations, sizes, percentages.
public enum Units {
    /// `250ms`, `2s`, `5m`, `1h`, `0`; returns nanoseconds.
    public static func duration(_ text: String) -> UInt64? {
        let t = text.trimmingCharacters(in: .whitespaces)
        if t == "0" { return 0 }
        let units: [(String, Double)] = [("ms", 1e6), ("us", 1e3), ("s", 1e9), ("m", 60e9), ("h", 3600e9)]
        for (suffix, scale) in units where t.hasSuffix(suffix) {
            let number = t.dropLast(suffix.count)
            guard isDecimal(number), let v = Double(number) else { return nil }
            let ns = v * scale
            guard ns < 1e18 else { return nil }
            return UInt64(ns.rounded())
        }
        return nil
    }

    /// `16KiB`, `1MiB`, `512B`, `1GiB`, a bare number of bytes; also KB/MB/GB as 1000s.
    public static func size(_ text: String) -> Int? {
        let t = text.trimmingCharacters(in: .whitespaces)
        let units: [(String, Int)] = [
            ("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30), ("KB", 1000), ("MB", 1_000_000), ("GB", 1_000_000_000),
            ("B", 1),
        ]
        for (suffix, scale) in units where t.hasSuffix(suffix) {
            let number = t.dropLast(suffix.count)
            guard number.allSatisfy(\.isNumber), !number.isEmpty, let v = Int(number), v <= Int.max / scale else { return nil }
            return v * scale
        }
        guard t.allSatisfy(\.isNumber), !t.isEmpty else { return nil }
        return Int(t)
    }

    /// `50%` -> 0.5; must be within 0...100%.
    /// `20/s`, `600/m`, `0.5/s` → requests per second; nil when malformed or not above 0.
    public static func rate(_ text: String) -> Double? {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let n = Double(parts[0].trimmingCharacters(in: .whitespaces)), n.isFinite, n > 0 else { return nil }
        switch parts[1].trimmingCharacters(in: .whitespaces) {
        case "s": return n
        case "m": return n / 60
        case "h": return n / 3600
        default: return nil
        }
    }

    public static func percentage(_ text: String) -> Double? {
        let t = text.trimmingCharacters(in: .whitespaces)
        guard t.hasSuffix("%") else { return nil }
        let number = t.dropLast()
        guard isDecimal(number), let v = Double(number), v >= 0, v <= 100 else { return nil }
        return v / 100
    }

    private static func isDecimal(_ s: Substring) -> Bool {
        !s.isEmpty && s.first != "." && s.last != "." && s.allSatisfy { $0.isASCII && ($0.isNumber || $0 == ".") }
            && s.filter { $0 == "." }.count <= 1
    }

    /// Renders nanoseconds the way a config writes them.
    public static func format(duration ns: UInt64) -> String {
        if ns == 0 { return "0s" }
        if ns % 60_000_000_000 == 0 { return "\(ns / 60_000_000_000)m" }
        if ns % 1_000_000_000 == 0 { return "\(ns / 1_000_000_000)s" }
        return "\(ns / 1_000_000)ms"
    }
}
