import Foundation
import SluiceSystem
import Yams

/// Turns a YAML file into a validated `Config`, or every error found as `FILE:LINE: message`.
public enum ConfigLoader {
    /// Reads and validates `path`. Blocking (file I/O and name resolution): control thread only.
    public static func load(path: String) throws(ConfigErrors) -> Config {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigErrors(errors: [ConfigError(file: path, line: 0, message: "cannot read the file")])
        }
        return try parse(String(decoding: data, as: UTF8.self), file: path)
    }

    /// Validates YAML text; `file` names it in errors.
    public static func parse(_ yaml: String, file: String) throws(ConfigErrors) -> Config {
        let ctx = DecodeContext(file: file)
        let root: Node
        do {
            guard let n = try Yams.compose(yaml: yaml) else {
                throw ConfigErrors(errors: [ConfigError(file: file, line: 1, message: "the file is empty")])
            }
            root = n
        } catch let e as ConfigErrors {
            throw e
        } catch {
            throw ConfigErrors(errors: [yamlError(error, file: file)])
        }
        let config = decodeRoot(root, ctx, file: file)
        if let c = config, ctx.errors.isEmpty { return c }
        if ctx.errors.isEmpty { ctx.error(root, "invalid configuration") }
        throw ConfigErrors(errors: ctx.errors.sorted { $0.line < $1.line })
    }

    /// One error on one line: Yams' own descriptions span several lines (a snippet and a caret).
    static func yamlError(_ error: Error, file: String) -> ConfigError {
        if let y = error as? YamlError {
            switch y {
            case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _),
                .composer(_, let problem, let mark, _):
                return ConfigError(file: file, line: mark.line, message: "YAML syntax: \(problem)")
            case .duplicatedKeysInMapping(let keys, let context):
                // Yams marks the first occurrence and quotes the whole file: report the repeat's line.
                let key = keys.first ?? "?"
                let first = context.mark.line
                let line = DuplicateKeyLocator.line(of: key, firstLine: first, column: context.mark.column, in: context.text)
                return ConfigError(
                    file: file, line: line ?? first, message: "key \"\(key)\" is repeated (first at line \(first))")
            case .reader(let problem, let offset, _, let yaml):
                // A byte YAML refuses (a control character): `offset` counts Characters.
                let line = offset.map { yaml.prefix($0).reduce(1) { n, c in c.isNewline ? n + 1 : n } } ?? 1
                return ConfigError(file: file, line: line, message: "YAML syntax: \(problem)")
            default:
                break
            }
        }
        let firstLine = "\(error)".split(whereSeparator: \.isNewline).first ?? ""
        return ConfigError(file: file, line: 1, message: "YAML syntax: \(firstLine)")
    }

    static func decodeRoot(_ root: Node, _ ctx: DecodeContext, file: String) -> Config? {
        guard
            let m = MappingReader(
                root, ctx, what: "the configuration",
                known: ["workers", "admin", "access_log", "cache", "limits", "timeouts", "listeners", "clusters"])
        else { return nil }
        var workers = ProcessInfo.processInfo.activeProcessorCount
        if let (w, n) = m.scalar("workers"), w != "auto" {
            if let v = Int(w), (1...256).contains(v) { workers = v } else { ctx.error(n, "workers: \"\(w)\" must be auto or 1 to 256") }
        }
        let admin = decodeAdmin(m.node("admin"), ctx)
        var accessLog = AccessLogConfig()
        if let n = m.node("access_log"), let a = MappingReader(n, ctx, what: "access_log", known: ["path", "format"]) {
            switch a.string("path") ?? "stdout" {
            case "stdout": accessLog.target = .stdout
            case "stderr": accessLog.target = .stderr
            case "off": accessLog.target = .off
            case let p: accessLog.target = .file(p)
            }
            accessLog.format = a.choice("format", AccessLogFormat.json)
        }
        var limits = GlobalLimits()
        if let n = m.node("limits"),
            let l = MappingReader(
                n, ctx, what: "limits", known: ["max_connections", "max_request_head", "max_request_headers", "max_request_body"])
        {
            limits.maxConnections = l.int("max_connections", limits.maxConnections, 1...10_000_000)
            limits.maxRequestHead = l.size("max_request_head", limits.maxRequestHead)
            if limits.maxRequestHead < 1024 || limits.maxRequestHead > 1 << 20 {
                ctx.error(l.node("max_request_head"), "limits.max_request_head must be from 1KiB to 1MiB")
            }
            limits.maxRequestHeaders = l.int("max_request_headers", limits.maxRequestHeaders, 1...10_000)
            limits.maxRequestBody = l.size("max_request_body", limits.maxRequestBody)
        }
        var cache = CacheMemoryConfig()
        if let n = m.node("cache"), let c = MappingReader(n, ctx, what: "cache", known: ["max_size", "max_object"]) {
            cache.maxSize = c.size("max_size", cache.maxSize)
            cache.maxObject = c.size("max_object", cache.maxObject)
            if cache.maxSize < 1 << 20 { ctx.error(c.node("max_size"), "cache.max_size must be at least 1MiB") }
            if cache.maxObject < 1024 || cache.maxObject > cache.maxSize / 4 {
                ctx.error(c.node("max_object"), "cache.max_object must be from 1KiB to a quarter of cache.max_size")
            }
        }
        var timeouts = Timeouts()
        if let n = m.node("timeouts"),
            let t = MappingReader(
                n, ctx, what: "timeouts",
                known: ["client_head", "client_idle", "connect", "response", "upstream_idle", "drain", "ready_grace"])
        {
            timeouts.clientHead = t.duration("client_head", timeouts.clientHead, allowZero: false)
            timeouts.clientIdle = t.duration("client_idle", timeouts.clientIdle, allowZero: false)
            timeouts.connect = t.duration("connect", timeouts.connect, allowZero: false)
            timeouts.response = t.duration("response", timeouts.response, allowZero: false)
            timeouts.upstreamIdle = t.duration("upstream_idle", timeouts.upstreamIdle, allowZero: false)
            timeouts.drain = t.duration("drain", timeouts.drain)
            timeouts.readyGrace = t.duration("ready_grace", timeouts.readyGrace)
        }
        var clusters: [ClusterConfig] = []
        if let seq = m.sequence("clusters") {
            for (i, n) in seq.enumerated() {
                if let c = ClusterDecoder.decode(n, index: i, ctx, timeouts: timeouts) {
                    if clusters.contains(where: { $0.name == c.name }) {
                        ctx.error(n, "cluster name \"\(c.name)\" is used twice")
                    }
                    clusters.append(c)
                }
            }
            if seq.isEmpty { ctx.error(m.node("clusters"), "clusters: at least one cluster is required") }
        } else {
            ctx.error(line: m.line, "\"clusters\" is required")
        }
        var listeners: [ListenerConfig] = []
        if let seq = m.sequence("listeners") {
            for (i, n) in seq.enumerated() {
                if let l = ListenerDecoder.decode(n, index: i, ctx, clusterNames: Set(clusters.map(\.name))) {
                    if listeners.contains(where: { $0.name == l.name }) {
                        ctx.error(n, "listener name \"\(l.name)\" is used twice")
                    }
                    if l.address.port != 0, listeners.contains(where: { $0.address == l.address }) {
                        ctx.error(n, "listener address \(l.listenText) is used twice")
                    }
                    listeners.append(l)
                }
            }
            if seq.isEmpty { ctx.error(m.node("listeners"), "listeners: at least one listener is required") }
        } else {
            ctx.error(line: m.line, "\"listeners\" is required")
        }
        guard let admin else { return nil }
        if let a = admin.listen {
            for (i, l) in listeners.enumerated() where SocketAddress.overlap(a, l.address) {
                ctx.error(
                    line: l.line,
                    "listeners[\(i)].listen: \(l.listenText) is where the admin listener listens (admin.listen \(admin.listenText), line \(admin.line))"
                )
            }
        }
        var config = Config(
            path: file, workers: workers, admin: admin, accessLog: accessLog, limits: limits, timeouts: timeouts,
            listeners: listeners, clusters: clusters)
        config.cache = cache
        return config
    }

    static func decodeAdmin(_ node: Node?, _ ctx: DecodeContext) -> AdminConfig? {
        var text = "127.0.0.1:9901"
        var tokenFile: String? = nil
        var token: String? = nil
        var where_: Node? = node
        var line = ctx.line(node)
        var webhook: WebhookTarget? = nil
        if let node, let a = MappingReader(node, ctx, what: "admin", known: ["listen", "token_file", "alert_webhook"]) {
            if let (url, n) = a.scalar("alert_webhook"), url != "null" && url != "~" && !url.isEmpty {
                switch WebhookTarget.parse(url) {
                case .success(let t): webhook = t
                case .failure(let m): ctx.error(n, "admin.alert_webhook: \(m.text)")
                }
            }
            if let (s, n) = a.scalar("listen") {
                text = s
                where_ = n
                line = ctx.line(n)
            }
            if let (written, n) = a.scalar("token_file") {
                let t = ctx.path(written)
                tokenFile = t
                if let data = FileManager.default.contents(atPath: t) {
                    let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                    if text.isEmpty {
                        ctx.error(n, "admin.token_file: \"\(t)\" is empty (it would refuse every call but GET)")
                    } else {
                        token = text
                    }
                } else {
                    ctx.error(n, "admin.token_file: cannot read \"\(t)\"")
                }
            }
        }
        if text == "off" {
            return AdminConfig(listen: nil, listenText: text, tokenFile: tokenFile, token: token, line: line, alertWebhook: webhook)
        }
        do {
            return AdminConfig(
                listen: try SocketAddress.resolve(text), listenText: text, tokenFile: tokenFile, token: token, line: line,
                alertWebhook: webhook)
        } catch {
            ctx.error(where_, "admin.listen: \(error.message)")
            return nil
        }
    }

    /// Resolves `host:port` or records an error at `node`.
    static func address(_ text: String, _ node: Node, _ ctx: DecodeContext, what: String) -> SocketAddress? {
        do {
            return try SocketAddress.resolve(text)
        } catch {
            ctx.error(node, "\(what): \(error.message)")
            return nil
        }
    }
}
