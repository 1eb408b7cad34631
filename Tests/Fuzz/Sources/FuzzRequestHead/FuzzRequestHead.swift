import FuzzSupport
import SluiceHTTP

/// A parsed request as bytes and values, free of offsets, so two parses can be compared.
struct RequestView: Equatable {
    var method: Method
    var methodName: [UInt8]
    var target: [UInt8]
    var path: [UInt8]
    var authority: [UInt8]
    var isHTTP11: Bool
    var fields: [FieldView]
    var hostIndex: Int
    var framing: BodyFraming
    var keepAlive: Bool
    var upgradeIndex: Int
    var connectionNamesFields: Bool
    /// `connectionNames(field:)` for each field.
    var namedByConnection: [Bool]
}

/// The head that parses every input after the previous one: reuse must not leak state.
nonisolated(unsafe) private var reused = RequestHead()

private let limitSets = [RequestLimits(), RequestLimits(maxHead: 512, maxRequestLine: 128)]

/// Parses the input as a request head under two sets of limits and checks, for each:
/// offsets within bounds, field invariants, the same answer from a reused head, `.incomplete`
/// for prefixes of an accepted head, and that the canonical re-serialization parses the same.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRequestHead(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    for limits in limitSets {
        var head = RequestHead()
        let result = head.parse(input, limits: limits)
        let again = reused.parse(input, limits: limits)
        invariant(again == result, "a reused head answers \(again), a fresh one \(result)")
        switch result {
        case .incomplete:
            break
        case .invalid(let e):
            invariant([400, 405, 414, 431, 505].contains(e.status), "unexpected status \(e.status)")
        case .complete(let length):
            let view = check(head, input, length, limits)
            invariant(check(reused, input, length, limits) == view, "a reused head parses differently")
            checkPrefixes(input, length, limits)
            checkReserialized(view)
        }
    }
    return 0
}

/// Checks a complete head's offsets and meaning; returns it as a view.
private func check(_ h: RequestHead, _ p: UnsafeRawBufferPointer, _ length: Int, _ limits: RequestLimits) -> RequestView {
    invariant(length > 0 && length <= p.count && h.length == length, "length \(length) of \(p.count) bytes")
    invariant(endsWithEmptyLine(p, length), "a complete head does not end with CRLF CRLF")
    var start = 0
    while p[start] == 0x0D && p[start + 1] == 0x0A { start += 2 }
    invariant(length - start <= limits.maxHead, "accepted a head of \(length - start) bytes over maxHead")
    invariant(start < h.methodEnd && h.methodEnd + 1 == h.targetStart && h.targetStart < h.targetEnd, "request line offsets")
    invariant(p[h.methodEnd] == 0x20 && p[h.targetEnd] == 0x20, "method and target not delimited by SP")
    let cr = h.targetEnd + 9
    invariant(cr - start <= limits.maxRequestLine, "accepted a request line of \(cr - start) bytes")
    invariant(p[cr] == 0x0D && p[cr + 1] == 0x0A, "the version is not 8 bytes before CRLF")
    invariant(h.targetStart <= h.pathStart && h.pathStart <= h.pathEnd && h.pathEnd == h.targetEnd, "path outside the target")
    invariant(
        h.authorityStart == 0 && h.authorityEnd == 0
            || (h.targetStart + 7 <= h.authorityStart && h.authorityStart < h.authorityEnd && h.authorityEnd == h.pathStart),
        "authority outside the target")
    let methodName = Array(p[start..<h.methodEnd])
    invariant(methodName.allSatisfy(isTChar), "method \(escaped(methodName)) is not a token")
    invariant(h.method == expectedMethod(methodName), "method \(escaped(methodName)) read as \(h.method)")
    invariant(h.method != .connect, "CONNECT accepted")
    let fields = checkedFields(h.fields, in: p, from: cr + 2, length: length)
    let hosts = fields.indices.filter { fields[$0].kind == .host }
    invariant(hosts.count <= 1 && h.hostIndex == (hosts.first ?? -1), "hostIndex \(h.hostIndex), Host fields at \(hosts)")
    invariant(!h.isHTTP11 || h.hostIndex >= 0, "an HTTP/1.1 request without Host accepted")
    invariant(h.upgradeIndex == -1 || fields[h.upgradeIndex].kind == .upgrade, "upgradeIndex is not an Upgrade field")
    let hasTE = fields.contains { $0.kind == .transferEncoding }
    let hasCL = fields.contains { $0.kind == .contentLength }
    invariant(!(hasTE && hasCL), "Content-Length with Transfer-Encoding accepted")
    switch h.framing {
    case .none: invariant(!hasTE, "Transfer-Encoding but no body framing")
    case .contentLength(let n): invariant(n > 0 && hasCL, "Content-Length framing \(n)")
    case .chunked: invariant(hasTE && h.isHTTP11, "chunked framing without TE or in HTTP/1.0")
    case .untilClose: invariant(false, "a request framed until close")
    }
    let named = fields.indices.map { h.connectionNames(p.baseAddress!, field: $0) }
    return RequestView(
        method: h.method, methodName: methodName, target: Array(p[h.targetStart..<h.targetEnd]),
        path: Array(p[h.pathStart..<h.pathEnd]), authority: Array(p[h.authorityStart..<h.authorityEnd]),
        isHTTP11: h.isHTTP11, fields: fields, hostIndex: h.hostIndex, framing: h.framing, keepAlive: h.keepAlive,
        upgradeIndex: h.upgradeIndex, connectionNamesFields: h.connectionNamesFields,
        namedByConnection: named)
}

/// A head that arrives in pieces is judged like one that arrives at once: every prefix is incomplete.
private func checkPrefixes(_ p: UnsafeRawBufferPointer, _ length: Int, _ limits: RequestLimits) {
    var head = RequestHead()
    for k in interestingPrefixes(p, length) {
        let r = withExactCopy(p, count: k) { head.parse($0, limits: limits) }
        invariant(r == .incomplete, "the first \(k) of \(length) bytes give \(r), not .incomplete")
    }
    let r = withExactCopy(p, count: length) { head.parse($0, limits: limits) }
    invariant(r == .complete(length: length), "the head alone gives \(r)")
}

/// Method, target, version and fields written canonically parse to the same values.
private func checkReserialized(_ v: RequestView) {
    var out = v.methodName + [0x20] + v.target + [0x20] + Array((v.isHTTP11 ? "HTTP/1.1" : "HTTP/1.0").utf8) + [0x0D, 0x0A]
    serialize(v.fields, into: &out)
    var head = RequestHead()
    let limits = RequestLimits(maxHead: out.count + 1, maxRequestLine: out.count + 1)
    withExactBuffer(out) { raw in
        let r = head.parse(raw, limits: limits)
        invariant(r == .complete(length: out.count), "re-serialized \(escaped(out)) gives \(r)")
        let again = check(head, raw, out.count, limits)
        invariant(again == v, "re-serialized \(escaped(out)) parses to \(again), not \(v)")
    }
}

private func expectedMethod(_ name: [UInt8]) -> Method {
    let methods: [String: Method] = [
        "GET": .get, "HEAD": .head, "POST": .post, "PUT": .put, "DELETE": .delete, "OPTIONS": .options, "TRACE": .trace,
        "PATCH": .patch, "CONNECT": .connect,
    ]
    return methods[String(decoding: name, as: UTF8.self)] ?? .other
}
