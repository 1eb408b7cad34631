import Foundation
import Yams

/// Collects errors while a file is decoded, so one `sluice check` shows all of them.
final class DecodeContext {
    let file: String
    var errors: [ConfigError] = []
    /// The config file's folder, absolute: relative file names in it are read from here.
    let folder: String

    init(file: String) {
        self.file = file
        // By the last "/" (NSString.deletingLastPathComponent traps on a one-character
        // relative name in this Foundation: `sluice check --config f`).
        var dir = file.lastIndex(of: "/").map { String(file[..<$0]) } ?? ""
        if file.hasPrefix("/") && dir.isEmpty { dir = "/" }
        if !dir.hasPrefix("/") {
            let cwd = FileManager.default.currentDirectoryPath
            dir = dir.isEmpty ? cwd : cwd + "/" + dir
        }
        folder = dir
    }

    /// A file named in the config: absolute as written, relative to the config file's folder
    /// otherwise (as nginx and HAProxy read paths against their configuration).
    func path(_ name: String) -> String {
        name.hasPrefix("/") ? name : ((folder as NSString).appendingPathComponent(name) as NSString).standardizingPath
    }

    func error(_ node: Node?, _ message: String) {
        errors.append(ConfigError(file: file, line: node?.mark?.line ?? 1, message: message))
    }

    /// The line of `node` (1 when unknown).
    func line(_ node: Node?) -> Int { node?.mark?.line ?? 1 }

    func error(line: Int, _ message: String) {
        errors.append(ConfigError(file: file, line: line, message: message))
    }
}

/// Reads one YAML mapping: typed getters with defaults; unknown and repeated keys are errors.
struct MappingReader {
    let node: Node
    let context: DecodeContext
    var what: String
    private var values: [String: (key: Node, value: Node)] = [:]

    /// nil (after recording an error) when `node` is not a mapping.
    init?(_ node: Node, _ context: DecodeContext, what: String, known: [String]) {
        self.node = node
        self.context = context
        self.what = what
        guard let mapping = node.mapping else {
            context.error(node, "\(what) must be a mapping")
            return nil
        }
        for (k, v) in mapping {
            guard let key = k.scalar?.string else {
                context.error(k, "\(what): keys must be plain strings")
                continue
            }
            if values[key] != nil {
                context.error(k, "\(what): key \"\(key)\" is repeated")
                continue
            }
            if !known.contains(key) {
                context.error(k, "unknown key \"\(key)\" in \(what) (known: \(known.joined(separator: ", ")))")
                continue
            }
            values[key] = (k, v)
        }
    }

    var line: Int { node.mark?.line ?? 1 }

    func has(_ key: String) -> Bool {
        guard let v = values[key]?.value else { return false }
        return !isNull(v)
    }

    func node(_ key: String) -> Node? {
        guard let v = values[key]?.value, !isNull(v) else { return nil }
        return v
    }

    func isNull(_ n: Node) -> Bool {
        guard let s = n.scalar else { return false }
        return s.style == .plain && (s.string == "null" || s.string == "~" || s.string.isEmpty)
    }

    func scalar(_ key: String) -> (String, Node)? {
        guard let n = node(key) else { return nil }
        guard let s = n.scalar?.string else {
            context.error(n, "\(what).\(key) must be a single value")
            return nil
        }
        return (s, n)
    }

    func string(_ key: String) -> String? { scalar(key)?.0 }

    func requiredString(_ key: String) -> String? {
        guard let s = string(key), !s.isEmpty else {
            context.error(line: line, "\(what): \"\(key)\" is required")
            return nil
        }
        return s
    }

    func duration(_ key: String, _ fallback: UInt64, allowZero: Bool = true) -> UInt64 {
        guard let (s, n) = scalar(key) else { return fallback }
        guard let v = Units.duration(s) else {
            context.error(n, "\(what).\(key): \"\(s)\" is not a duration (like 250ms, 2s, 5m)")
            return fallback
        }
        if v == 0 && !allowZero {
            context.error(n, "\(what).\(key) must be greater than 0")
            return fallback
        }
        return v
    }

    func size(_ key: String, _ fallback: Int) -> Int {
        guard let (s, n) = scalar(key) else { return fallback }
        guard let v = Units.size(s), v > 0 else {
            context.error(n, "\(what).\(key): \"\(s)\" is not a size (like 16KiB, 1MiB)")
            return fallback
        }
        return v
    }

    func percentage(_ key: String, _ fallback: Double) -> Double {
        guard let (s, n) = scalar(key) else { return fallback }
        guard let v = Units.percentage(s) else {
            context.error(n, "\(what).\(key): \"\(s)\" is not a percentage from 0% to 100%")
            return fallback
        }
        return v
    }

    func int(_ key: String, _ fallback: Int, _ range: ClosedRange<Int>) -> Int {
        guard let (s, n) = scalar(key) else { return fallback }
        guard let v = Int(s), range.contains(v) else {
            context.error(n, "\(what).\(key): \"\(s)\" must be a whole number from \(range.lowerBound) to \(range.upperBound)")
            return fallback
        }
        return v
    }

    func double(_ key: String, _ fallback: Double, min: Double) -> Double {
        guard let (s, n) = scalar(key) else { return fallback }
        guard let v = Double(s), v >= min, v.isFinite else {
            context.error(n, "\(what).\(key): \"\(s)\" must be a number of at least \(min)")
            return fallback
        }
        return v
    }

    func bool(_ key: String, _ fallback: Bool) -> Bool {
        guard let (s, n) = scalar(key) else { return fallback }
        switch s {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default:
            context.error(n, "\(what).\(key): \"\(s)\" must be true or false")
            return fallback
        }
    }

    func choice<T: RawRepresentable & CaseIterable>(_ key: String, _ fallback: T) -> T where T.RawValue == String {
        guard let (s, n) = scalar(key) else { return fallback }
        guard let v = T(rawValue: s) else {
            let accepted = T.allCases.map(\.rawValue).joined(separator: " | ")
            context.error(n, "\(what).\(key): \"\(s)\" is not one of \(accepted)")
            return fallback
        }
        return v
    }

    /// The elements of a sequence value (an error if it is something else).
    func sequence(_ key: String) -> [Node]? {
        guard let n = node(key) else { return nil }
        guard let seq = n.sequence else {
            context.error(n, "\(what).\(key) must be a list")
            return nil
        }
        return Array(seq)
    }
}
