import SluiceSystem
import Yams

/// One backend of a `discovery.file` list.
public struct BackendListEntry: Sendable, Equatable {
    /// As written, or the address text (normalized, as `/status` shows it) when absent.
    public var name: String
    public var address: SocketAddress
    /// 0...10000, default 1.
    public var weight: Int
    /// `tier: standby`; default primary.
    public var standby: Bool
    /// Where the entry starts in the file (1-based).
    public var line: Int

    public init(name: String, address: SocketAddress, weight: Int = 1, standby: Bool = false, line: Int) {
        self.name = name
        self.address = address
        self.weight = weight
        self.standby = standby
        self.line = line
    }
}

/// The format of a `discovery.file`: a YAML (or JSON, which is YAML) list of
/// `{name, address, weight, tier}`.
///
/// ```yaml
/// - { name: app1, address: 10.0.0.7:8000, weight: 5 }
/// - { address: "[2001:db8::7]:8000", tier: standby }
/// ```
///
/// Strict like the configuration: unknown or repeated keys, bad values and repeated names
/// are errors, all collected with FILE:LINE. An empty file is an error (a truncated write
/// must not remove every backend); `[]` is the explicit empty list.
public enum BackendListFile {
    static let keys = ["name", "address", "weight", "tier"]

    /// Decodes the text of the file; `file` names it in errors. Pure (no lookups, no I/O).
    public static func decode(_ text: String, file: String) -> Result<[BackendListEntry], ConfigErrors> {
        let root: Node
        do {
            guard let n = try Yams.compose(yaml: text) else {
                let message = "empty file: a truncated write? write [] to remove every backend"
                return .failure(ConfigErrors(errors: [ConfigError(file: file, line: 1, message: message)]))
            }
            root = n
        } catch {
            return .failure(ConfigErrors(errors: [ConfigLoader.yamlError(error, file: file)]))
        }
        let ctx = DecodeContext(file: file)
        guard let items = root.sequence else {
            ctx.error(root, "the file must be a list of backends like - { name: app1, address: 10.0.0.7:8000 }")
            return .failure(ConfigErrors(errors: ctx.errors))
        }
        var entries: [BackendListEntry] = []
        var firstLine: [String: Int] = [:]
        for (i, item) in items.enumerated() {
            guard let e = entry(item, index: i, ctx) else { continue }
            if let first = firstLine[e.name] {
                ctx.error(item, "backend name \"\(e.name)\" is used twice (first at line \(first))")
                continue
            }
            firstLine[e.name] = e.line
            entries.append(e)
        }
        if !ctx.errors.isEmpty {
            // By line; errors of one line in the order found.
            let sorted = ctx.errors.enumerated().sorted { ($0.element.line, $0.offset) < ($1.element.line, $1.offset) }
            return .failure(ConfigErrors(errors: sorted.map(\.element)))
        }
        return .success(entries)
    }

    static func entry(_ node: Node, index: Int, _ ctx: DecodeContext) -> BackendListEntry? {
        var what = "entry \(index + 1)"
        let before = ctx.errors.count
        guard var m = MappingReader(node, ctx, what: what, known: keys) else { return nil }
        let written = m.string("name")
        if let w = written {
            if w.isEmpty { ctx.error(m.node("name"), "\(what): name must not be empty") }
            what = "backend \"\(w)\""
            m.what = what
        }
        let address = m.requiredString("address").flatMap { text in
            parseAddress(text, m.node("address"), what: what, ctx)
        }
        let weight = m.int("weight", 1, 0...10_000)
        var standby = false
        if let (t, n) = m.scalar("tier") {
            switch t {
            case "primary": standby = false
            case "standby": standby = true
            default: ctx.error(n, "\(what).tier: \"\(t)\" is not one of primary | standby")
            }
        }
        guard let address, ctx.errors.count == before else { return nil }
        let name = written ?? address.description
        return BackendListEntry(name: name, address: address, weight: weight, standby: standby, line: m.line)
    }

    /// An IP literal and port only: a host name would need a lookup the file source never does.
    static func parseAddress(_ text: String, _ node: Node?, what: String, _ ctx: DecodeContext) -> SocketAddress? {
        if !text.hasPrefix("["), text.count(where: { $0 == ":" }) > 1 {
            ctx.error(node, "\(what).address: \"\(text)\": an IPv6 address is written in brackets, like [2001:db8::7]:8000")
            return nil
        }
        if let a = SocketAddress.numeric(text) { return a }
        let parts = try? SocketAddress.split(text)
        if let (host, port) = parts, port > 0, !host.isEmpty, !looksNumeric(host) {
            ctx.error(node, "\(what).address: \"\(text)\": address must be an IP address and port; names belong to a dns or srv source")
        } else {
            ctx.error(node, "\(what).address: \"\(text)\" is not an IP address and port (like 10.0.0.7:8000 or [2001:db8::7]:8000)")
        }
        return nil
    }

    /// Digits and dots, or an IPv6 literal's characters: a mistyped address, not a host name.
    static func looksNumeric(_ host: String) -> Bool {
        host.contains(":") || host.allSatisfy { $0 == "." || $0.isASCII && $0.isNumber }
    }
}
