import CFuzzShims
import FuzzSupport
import SluiceConfig

private let file = "fuzz.yaml"

/// Loads the input as a configuration file. It must give either a `Config` that holds what
/// validation promises, or errors each printed on one line as `fuzz.yaml:LINE: message`, with
/// LINE inside the file, in line order. (Untyped errors cannot escape: `parse` throws
/// `ConfigErrors` only.) Addresses resolve numerically only: the fuzzer sends no DNS queries.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfigLoader(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    invariant(CFuzzShims_numericOnlyResolver() == 1, "the numeric-only resolver is not linked")
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    do throws(ConfigErrors) {
        check(try ConfigLoader.parse(text, file: file))
    } catch {
        check(error, lineBound: lineBreaks(text) + 2)
    }
    return 0
}

private func check(_ e: ConfigErrors, lineBound: Int) {
    invariant(!e.errors.isEmpty, "ConfigErrors without an error")
    var previous = 0
    for error in e.errors {
        let d = error.description
        invariant(d.hasPrefix("\(file):\(error.line): "), "\(d) does not start with FILE:LINE:")
        invariant(error.line >= 1 && error.line <= lineBound, "line \(error.line) outside a file of < \(lineBound) lines: \(d)")
        invariant(error.line >= previous, "errors out of line order: \(e)")
        invariant(!error.message.isEmpty, "an empty message at line \(error.line)")
        invariant(!error.message.contains(where: \.isNewline), "a message over several lines: \(d)")
        previous = error.line
    }
}

/// What a `Config` that passed validation guarantees to the proxy.
private func check(_ c: Config) {
    invariant((1...256).contains(c.workers), "workers \(c.workers)")
    invariant((1024...(1 << 20)).contains(c.limits.maxRequestHead), "max_request_head \(c.limits.maxRequestHead)")
    invariant(c.limits.maxConnections >= 1 && c.limits.maxRequestBody >= 1, "limits \(c.limits)")
    let t = c.timeouts
    invariant([t.clientHead, t.clientIdle, t.connect, t.response, t.upstreamIdle].allSatisfy { $0 > 0 }, "a zero timeout: \(t)")
    invariant(!c.clusters.isEmpty && !c.listeners.isEmpty, "a config without clusters or listeners")
    invariant(Set(c.clusters.map(\.name)).count == c.clusters.count, "two clusters share a name")
    invariant(Set(c.listeners.map(\.name)).count == c.listeners.count, "two listeners share a name")
    for cluster in c.clusters {
        invariant(!cluster.name.isEmpty && !cluster.backends.isEmpty, "cluster \(cluster.name) has no backends")
        let all = cluster.backends + cluster.standby
        invariant(Set(all.map(\.name)).count == all.count, "two backends of \(cluster.name) share a name")
        for b in all {
            invariant((0...10_000).contains(b.weight) && b.address.port != 0, "backend \(b.name) of \(cluster.name)")
        }
        invariant(cluster.connectTimeout > 0 && cluster.responseTimeout > 0, "cluster \(cluster.name) timeouts")
        if let h = cluster.healthCheck { invariant(h.timeout <= h.interval && h.path.hasPrefix("/"), "health check \(h)") }
    }
    let names = Set(c.clusters.map(\.name))
    for l in c.listeners {
        invariant(!l.routes.isEmpty, "listener \(l.name) has no route")
        for r in l.routes {
            invariant(!r.targets.isEmpty && r.targets.allSatisfy { names.contains($0.cluster) }, "route to \(r.targets)")
            invariant(r.targets.reduce(0) { $0 + $1.weight } > 0, "route weights add up to 0")
        }
    }
}

/// Line breaks as YAML counts them (LF, CR, NEL, LS, PS), CRLF counted twice: an upper bound.
private func lineBreaks(_ text: String) -> Int {
    text.unicodeScalars.reduce(0) { n, s in
        [0x0A, 0x0D, 0x85, 0x2028, 0x2029].contains(s.value) ? n + 1 : n
    }
}
