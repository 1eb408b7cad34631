import Foundation
import Yams

/// Decodes one entry of `clusters:` and every block inside it.
enum ClusterDecoder {
    static let keys = [
        "name", "balance", "hash_on", "backends", "standby", "failover", "slow_start", "health_check",
        "outlier_detection", "retries", "limits", "timeouts", "upstream_tls", "discovery",
    ]

    static func decode(_ node: Node, index: Int, _ ctx: DecodeContext, timeouts: Timeouts) -> ClusterConfig? {
        var what = "clusters[\(index)]"
        guard var m = MappingReader(node, ctx, what: what, known: keys) else { return nil }
        guard let name = m.requiredString("name") else { return nil }
        what = "cluster \"\(name)\""
        m.what = what
        var names = Set<String>()
        let backends = decodeBackends(m, "backends", what: what, ctx, names: &names)
        let standby = decodeBackends(m, "standby", what: what, ctx, names: &names)
        let discovery = m.node("discovery").flatMap { DiscoveryDecoder.decode($0, what: "\(what).discovery", ctx) }
        // With discovery the backends may all come at run time (DESIGN §2).
        if m.node("discovery") == nil {
            if backends.isEmpty && m.sequence("backends") != nil { ctx.error(m.node("backends"), "\(what): backends is empty") }
            if m.node("backends") == nil { ctx.error(node, "\(what): \"backends\" is required (or \"discovery\")") }
        }
        var c = ClusterConfig(
            name: name, backends: backends, standby: standby, connectTimeout: timeouts.connect,
            responseTimeout: timeouts.response, upstreamIdleTimeout: timeouts.upstreamIdle)
        c.discovery = discovery
        c.balance = m.choice("balance", BalanceAlgorithm.roundRobin)
        if let (h, n) = m.scalar("hash_on") {
            if c.balance != .hash { ctx.error(n, "\(what).hash_on needs balance: hash") }
            if h == "client_ip" {
                c.hashOn = .clientIP
            } else if h.hasPrefix("header:"), h.count > 7 {
                c.hashOn = .header(String(h.dropFirst(7)))
            } else if h.hasPrefix("cookie:"), h.count > 7 {
                c.hashOn = .cookie(String(h.dropFirst(7)))
            } else {
                ctx.error(n, "\(what).hash_on: \"\(h)\" must be client_ip, header:NAME or cookie:NAME")
            }
        }
        if let f = m.node("failover"),
            let fm = MappingReader(f, ctx, what: "\(what).failover", known: ["overprovisioning", "when_all_down"])
        {
            c.failover.overprovisioning = fm.double("overprovisioning", c.failover.overprovisioning, min: 1.0)
            c.failover.whenAllDown = fm.choice("when_all_down", c.failover.whenAllDown)
        }
        c.slowStart = m.duration("slow_start", 0)
        if let h = m.node("health_check") { c.healthCheck = decodeHealth(h, what: "\(what).health_check", ctx) }
        if let o = m.node("outlier_detection"),
            let om = MappingReader(
                o, ctx, what: "\(what).outlier_detection",
                known: ["consecutive_failures", "base_ejection", "max_ejection", "max_ejected"])
        {
            var od = OutlierDetectionConfig()
            od.consecutiveFailures = om.int("consecutive_failures", od.consecutiveFailures, 1...1000)
            od.baseEjection = om.duration("base_ejection", od.baseEjection, allowZero: false)
            od.maxEjection = om.duration("max_ejection", od.maxEjection, allowZero: false)
            if od.maxEjection < od.baseEjection { ctx.error(o, "\(what).outlier_detection: max_ejection is shorter than base_ejection") }
            od.maxEjected = om.percentage("max_ejected", od.maxEjected)
            c.outlierDetection = od
        }
        if let r = m.node("retries") { c.retries = decodeRetries(r, what: "\(what).retries", ctx) }
        if let l = m.node("limits"),
            let lm = MappingReader(
                l, ctx, what: "\(what).limits",
                known: [
                    "max_requests_per_backend", "max_queue", "queue_timeout", "queue_target", "reserve_for_critical", "adaptive",
                ])
        {
            var cl = ClusterLimits()
            cl.maxRequestsPerBackend = lm.int("max_requests_per_backend", cl.maxRequestsPerBackend, 1...1_000_000)
            cl.maxQueue = lm.int("max_queue", cl.maxQueue, 0...10_000_000)
            cl.queueTimeout = lm.duration("queue_timeout", cl.queueTimeout, allowZero: false)
            cl.queueTarget = lm.duration("queue_target", cl.queueTarget)
            cl.reserveForCritical = lm.percentage("reserve_for_critical", cl.reserveForCritical)
            if cl.reserveForCritical >= 1, let (_, n) = lm.scalar("reserve_for_critical") {
                ctx.error(n, "\(what).limits.reserve_for_critical must be below 100% (normal requests need a slot)")
            }
            cl.adaptive = lm.bool("adaptive", cl.adaptive)
            c.limits = cl
        }
        if let t = m.node("timeouts"),
            let tm = MappingReader(t, ctx, what: "\(what).timeouts", known: ["connect", "response", "upstream_idle"])
        {
            c.connectTimeout = tm.duration("connect", c.connectTimeout, allowZero: false)
            c.responseTimeout = tm.duration("response", c.responseTimeout, allowZero: false)
            c.upstreamIdleTimeout = tm.duration("upstream_idle", c.upstreamIdleTimeout, allowZero: false)
        }
        if let u = m.node("upstream_tls"),
            let um = MappingReader(u, ctx, what: "\(what).upstream_tls", known: ["ca_file", "server_name", "verify"])
        {
            var ut = UpstreamTLSConfig()
            if let (written, n) = um.scalar("ca_file") {
                let f = ctx.path(written)
                if !FileManager.default.isReadableFile(atPath: f) { ctx.error(n, "\(what).upstream_tls.ca_file: cannot read \"\(f)\"") }
                ut.caFile = f
            }
            ut.serverName = um.string("server_name")
            ut.verify = um.bool("verify", true)
            c.upstreamTLS = ut
        }
        return c
    }

    static func decodeBackends(
        _ m: MappingReader, _ key: String, what: String, _ ctx: DecodeContext, names: inout Set<String>
    ) -> [BackendConfig] {
        var result: [BackendConfig] = []
        for (i, b) in (m.sequence(key) ?? []).enumerated() {
            let bw = "\(what).\(key)[\(i)]"
            guard let bm = MappingReader(b, ctx, what: bw, known: ["name", "address", "weight"]),
                let (addr, an) = bm.scalar("address")
            else {
                if b.mapping != nil { ctx.error(b, "\(bw): \"address\" is required") }
                continue
            }
            let name = bm.string("name") ?? addr
            if !names.insert(name).inserted { ctx.error(b, "\(bw): backend name \"\(name)\" is used twice in the cluster") }
            let weight = bm.int("weight", 1, 0...10_000)
            guard let resolved = ConfigLoader.address(addr, an, ctx, what: "\(bw).address") else { continue }
            if resolved.port == 0 { ctx.error(an, "\(bw).address: port 0 is not a backend port") }
            result.append(BackendConfig(name: name, addressText: addr, address: resolved, weight: weight))
        }
        return result
    }

    static func decodeHealth(_ node: Node, what: String, _ ctx: DecodeContext) -> HealthCheckConfig? {
        guard
            let m = MappingReader(
                node, ctx, what: what,
                known: ["type", "path", "host", "interval", "timeout", "jitter", "rise", "fall", "expect_status", "expect_body"])
        else { return nil }
        var h = HealthCheckConfig()
        h.type = m.choice("type", h.type)
        if let (p, n) = m.scalar("path") {
            if !p.hasPrefix("/") { ctx.error(n, "\(what).path must start with /") }
            h.path = p
        }
        h.host = m.string("host")
        h.interval = m.duration("interval", h.interval, allowZero: false)
        h.timeout = m.duration("timeout", h.timeout, allowZero: false)
        if h.timeout > h.interval { ctx.error(node, "\(what): timeout is longer than interval") }
        h.jitter = m.percentage("jitter", h.jitter)
        h.rise = m.int("rise", h.rise, 1...100)
        h.fall = m.int("fall", h.fall, 1...100)
        if let n = m.node("expect_status") {
            var ranges: [ClosedRange<Int>] = []
            let items = n.sequence.map { Array($0) } ?? [n]
            for item in items {
                guard let s = item.scalar?.string, let r = statusRange(s) else {
                    ctx.error(item, "\(what).expect_status: expected a status like 200, a range like 200-399, or a list of them")
                    continue
                }
                ranges.append(r)
            }
            if !ranges.isEmpty { h.expectStatus = ranges }
        }
        h.expectBody = m.string("expect_body")
        return h
    }

    static func statusRange(_ s: String) -> ClosedRange<Int>? {
        let parts = s.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count <= 2, let lo = Int(parts[0].trimmingCharacters(in: .whitespaces)), (100...599).contains(lo) else {
            return nil
        }
        if parts.count == 1 { return lo...lo }
        guard let hi = Int(parts[1].trimmingCharacters(in: .whitespaces)), (lo...599).contains(hi) else { return nil }
        return lo...hi
    }

    static func decodeRetries(_ node: Node, what: String, _ ctx: DecodeContext) -> RetryConfig? {
        guard let m = MappingReader(node, ctx, what: what, known: ["attempts", "on", "budget"]) else { return nil }
        var r = RetryConfig()
        r.attempts = m.int("attempts", r.attempts, 0...10)
        if let seq = m.sequence("on") {
            var set = Set<RetryCondition>()
            for item in seq {
                let s = item.scalar?.string ?? ""
                switch s {
                case "connect_failure": set.insert(.connectFailure)
                case "reset_before_response": set.insert(.resetBeforeResponse)
                default:
                    if let code = Int(s), (500...599).contains(code) {
                        set.insert(.status(code))
                    } else {
                        ctx.error(item, "\(what).on: \"\(s)\" must be connect_failure, reset_before_response or a 5xx status")
                    }
                }
            }
            r.on = set
        }
        r.budget = m.percentage("budget", r.budget)
        return r
    }
}
