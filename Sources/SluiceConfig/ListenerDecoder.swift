import Foundation
import Yams

/// Decodes one entry of `listeners:` with its TLS block and routes.
enum ListenerDecoder {
    static func decode(_ node: Node, index: Int, _ ctx: DecodeContext, clusterNames: Set<String>) -> ListenerConfig? {
        let what = "listeners[\(index)]"
        guard let m = MappingReader(node, ctx, what: what, known: ["name", "listen", "tls", "routes"]) else { return nil }
        let name = m.string("name") ?? "listener\(index)"
        guard let (listen, ln) = m.scalar("listen") else {
            ctx.error(node, "\(what): \"listen\" is required")
            return nil
        }
        let address = ConfigLoader.address(listen, ln, ctx, what: "\(what).listen")
        var tls: TLSConfig? = nil
        if let t = m.node("tls") { tls = decodeTLS(t, what: "\(what).tls", ctx) }
        var routes: [RouteConfig] = []
        if let seq = m.sequence("routes") {
            for (i, r) in seq.enumerated() {
                if let route = decodeRoute(r, what: "\(what).routes[\(i)]", ctx, clusterNames: clusterNames) { routes.append(route) }
            }
        }
        if routes.isEmpty { ctx.error(node, "\(what): at least one route is required") }
        guard let address else { return nil }
        return ListenerConfig(
            name: name, listenText: listen, address: address, tls: tls, routes: routes, line: ln.mark?.line ?? ctx.line(node))
    }

    static func decodeTLS(_ node: Node, what: String, _ ctx: DecodeContext) -> TLSConfig? {
        guard let m = MappingReader(node, ctx, what: what, known: ["certificates", "min_version", "handshake_timeout"]) else {
            return nil
        }
        var certs: [TLSConfig.Certificate] = []
        for (i, c) in (m.sequence("certificates") ?? []).enumerated() {
            guard let cm = MappingReader(c, ctx, what: "\(what).certificates[\(i)]", known: ["cert", "key"]),
                let certName = cm.requiredString("cert"), let keyName = cm.requiredString("key")
            else { continue }
            let cert = ctx.path(certName)
            let key = ctx.path(keyName)
            for file in [cert, key] where !FileManager.default.isReadableFile(atPath: file) {
                ctx.error(c, "\(what).certificates[\(i)]: cannot read \"\(file)\"")
            }
            certs.append(.init(cert: cert, key: key))
        }
        if certs.isEmpty { ctx.error(node, "\(what): at least one certificate is required") }
        var tls = TLSConfig(certificates: certs)
        if let (v, n) = m.scalar("min_version") {
            if v == "1.2" || v == "1.3" { tls.minVersion = v } else { ctx.error(n, "\(what).min_version must be \"1.2\" or \"1.3\"") }
        }
        tls.handshakeTimeout = m.duration("handshake_timeout", tls.handshakeTimeout, allowZero: false)
        return tls
    }

    static func decodeRoute(_ node: Node, what: String, _ ctx: DecodeContext, clusterNames: Set<String>) -> RouteConfig? {
        guard let m = MappingReader(node, ctx, what: what, known: ["match", "cluster", "split", "priority", "rate_limit", "cache"]) else {
            return nil
        }
        var host: String? = nil
        var prefix: String? = nil
        if let mn = m.node("match"), let mm = MappingReader(mn, ctx, what: "\(what).match", known: ["host", "path_prefix"]) {
            if let (h, n) = mm.scalar("host") {
                let lower = h.lowercased()
                let bare = lower.hasPrefix("*.") ? String(lower.dropFirst(2)) : lower
                if bare.isEmpty || bare.contains(where: { !($0.isLetter || $0.isNumber || $0 == "." || $0 == "-") }) {
                    ctx.error(n, "\(what).match.host: \"\(h)\" is not a host name (optionally with a leading *.)")
                }
                host = lower
            }
            if let (p, n) = mm.scalar("path_prefix") {
                if !p.hasPrefix("/") { ctx.error(n, "\(what).match.path_prefix must start with /") }
                prefix = p
            }
        }
        var targets: [RouteConfig.Split] = []
        if let (c, n) = m.scalar("cluster") {
            if !clusterNames.contains(c) { ctx.error(n, "\(what): unknown cluster \"\(c)\"") }
            targets.append(.init(cluster: c, weight: 1))
        }
        if let seq = m.sequence("split") {
            if !targets.isEmpty { ctx.error(node, "\(what): use either cluster or split, not both") }
            for (i, s) in seq.enumerated() {
                guard let sm = MappingReader(s, ctx, what: "\(what).split[\(i)]", known: ["cluster", "weight"]),
                    let c = sm.requiredString("cluster")
                else { continue }
                if !clusterNames.contains(c) { ctx.error(s, "\(what).split[\(i)]: unknown cluster \"\(c)\"") }
                targets.append(.init(cluster: c, weight: sm.int("weight", 1, 0...1_000_000)))
            }
            if targets.reduce(0, { $0 + $1.weight }) == 0 { ctx.error(node, "\(what).split: the weights add up to 0") }
        }
        if targets.isEmpty {
            ctx.error(node, "\(what): a route needs cluster or split")
            return nil
        }
        var route = RouteConfig(host: host, pathPrefix: prefix, targets: targets)
        if let (p, n) = m.scalar("priority") {
            if let v = RequestPriority.allCases.first(where: { $0.label == p }) {
                route.priority = v
            } else {
                ctx.error(n, "\(what).priority must be one of critical, normal, sheddable (got \"\(p)\")")
            }
        }
        if let r = m.node("rate_limit") { route.rateLimit = decodeRateLimit(r, what: "\(what).rate_limit", ctx) }
        if let c = m.node("cache") { route.cache = decodeCache(c, what: "\(what).cache", ctx) }
        return route
    }

    /// A route's `cache: { default_ttl, max_ttl, stale_while_revalidate, stale_if_error,
    /// stale_if_overloaded, coalesce }`; an empty mapping (`cache: {}`) takes every default.
    static func decodeCache(_ node: Node, what: String, _ ctx: DecodeContext) -> RouteCacheConfig? {
        var c = RouteCacheConfig()
        if let s = node.scalar, s.style == .plain, ["", "null", "~"].contains(s.string) { return c }
        guard
            let m = MappingReader(
                node, ctx, what: what,
                known: ["default_ttl", "max_ttl", "stale_while_revalidate", "stale_if_error", "stale_if_overloaded", "coalesce"])
        else { return nil }
        c.defaultTTL = m.duration("default_ttl", c.defaultTTL)
        c.maxTTL = m.duration("max_ttl", c.maxTTL, allowZero: false)
        c.staleWhileRevalidate = m.duration("stale_while_revalidate", c.staleWhileRevalidate)
        c.staleIfError = m.duration("stale_if_error", c.staleIfError)
        c.staleIfOverloaded = m.duration("stale_if_overloaded", c.staleIfOverloaded)
        c.coalesce = m.bool("coalesce", c.coalesce)
        if c.defaultTTL > c.maxTTL {
            ctx.error(m.node("default_ttl") ?? node, "\(what).default_ttl must not be longer than max_ttl")
        }
        return c
    }

    /// `rate_limit: { key: client_ip | header:NAME, rate: 20/s | 600/m, burst: 40 }`.
    static func decodeRateLimit(_ node: Node, what: String, _ ctx: DecodeContext) -> RateLimitConfig? {
        guard let m = MappingReader(node, ctx, what: what, known: ["key", "rate", "burst"]) else { return nil }
        guard let (text, rn) = m.scalar("rate") else {
            ctx.error(node, "\(what): \"rate\" is required (e.g. 20/s or 600/m)")
            return nil
        }
        guard let rate = Units.rate(text) else {
            ctx.error(rn, "\(what).rate: \"\(text)\" is not a rate (write N/s or N/m, N above 0)")
            return nil
        }
        var r = RateLimitConfig(rate: rate, burst: max(1, Int(rate.rounded(.up))))
        r.burst = m.int("burst", r.burst, 1...10_000_000)
        if let (k, n) = m.scalar("key") {
            if k == "client_ip" {
                r.key = .clientIP
            } else if k.hasPrefix("header:"), k.count > 7,
                k.dropFirst(7).allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_".contains($0)) })
            {
                r.key = .header(String(k.dropFirst(7)).lowercased())
            } else {
                ctx.error(n, "\(what).key must be client_ip or header:NAME (got \"\(k)\")")
            }
        }
        return r
    }
}
