import FuzzSupport
import SluiceHTTP

/// A parsed response as bytes and values, free of offsets, so two parses can be compared.
struct ResponseView: Equatable {
    var status: Int
    var isHTTP11: Bool
    var reason: [UInt8]
    var fields: [FieldView]
    var contentLength: Int?
    var chunked: Bool
    var close: Bool
    var connectionNamesFields: Bool
    /// `framing(requestMethod:)` for a GET and for a HEAD.
    var framingForGet: BodyFraming
    var framingForHead: BodyFraming
    var namedByConnection: [Bool]
}

/// The head that parses every input after the previous one: reuse must not leak state.
nonisolated(unsafe) private var reused = ResponseHead()

private let maxHeads = [64 * 1024, 256]

/// Parses the input as a response head under two limits and checks, for each: offsets within
/// bounds, field invariants, the same answer from a reused head, `.incomplete` for prefixes of an
/// accepted head, and that the canonical re-serialization parses the same.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzResponseHead(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    for maxHead in maxHeads {
        var head = ResponseHead()
        let result = head.parse(input, maxHead: maxHead)
        let again = reused.parse(input, maxHead: maxHead)
        invariant(again == result, "a reused head answers \(again), a fresh one \(result)")
        switch result {
        case .incomplete:
            break
        case .invalid(let e):
            invariant(e.status == 502, "a backend's bad head answers \(e.status), not 502")
        case .complete(let length):
            let view = check(head, input, length, maxHead)
            invariant(check(reused, input, length, maxHead) == view, "a reused head parses differently")
            checkPrefixes(input, length, maxHead)
            checkReserialized(view)
        }
    }
    return 0
}

private func check(_ h: ResponseHead, _ p: UnsafeRawBufferPointer, _ length: Int, _ maxHead: Int) -> ResponseView {
    invariant(length > 0 && length <= p.count && h.length == length, "length \(length) of \(p.count) bytes")
    invariant(length <= maxHead, "accepted a head of \(length) bytes over maxHead \(maxHead)")
    invariant(endsWithEmptyLine(p, length), "a complete head does not end with CRLF CRLF")
    invariant((100...599).contains(h.status), "status \(h.status)")
    let digits = Array(p[9..<12])
    invariant(String(decoding: digits, as: UTF8.self) == String(h.status), "status \(h.status) read from \(escaped(digits))")
    invariant(h.isHTTP11 == (p[7] != UInt8(ascii: "0")), "HTTP/1.\(p[7]) read as isHTTP11 \(h.isHTTP11)")
    invariant(
        h.reasonStart == 12 && h.reasonEnd == 12 || (h.reasonStart == 13 && h.reasonStart <= h.reasonEnd),
        "reason at \(h.reasonStart)..<\(h.reasonEnd)")
    let cr = h.reasonEnd
    invariant(p[cr] == 0x0D && p[cr + 1] == 0x0A, "the reason does not end at CRLF")
    let reason = Array(p[h.reasonStart..<h.reasonEnd])
    invariant(reason.allSatisfy { $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }, "control byte in reason \(escaped(reason))")
    let fields = checkedFields(h.fields, in: p, from: cr + 2, length: length)
    let hasTE = fields.contains { $0.kind == .transferEncoding }
    let hasCL = fields.contains { $0.kind == .contentLength }
    invariant(!(hasTE && hasCL), "Content-Length with Transfer-Encoding accepted")
    invariant(h.chunked == hasTE, "chunked \(h.chunked) with TE \(hasTE)")
    invariant((h.contentLength != nil) == hasCL, "contentLength \(String(describing: h.contentLength)) with CL \(hasCL)")
    if let n = h.contentLength { invariant(n >= 0, "negative Content-Length") }
    let forGet = h.framing(requestMethod: .get)
    let forHead = h.framing(requestMethod: .head)
    invariant(forHead == .none, "a response to HEAD has a body: \(forHead)")
    if h.status < 200 || h.status == 204 || h.status == 304 { invariant(forGet == .none, "status \(h.status) has a body") }
    let named = fields.indices.map { h.connectionNames(p.baseAddress!, field: $0) }
    return ResponseView(
        status: h.status, isHTTP11: h.isHTTP11, reason: reason, fields: fields, contentLength: h.contentLength,
        chunked: h.chunked, close: h.close, connectionNamesFields: h.connectionNamesFields, framingForGet: forGet,
        framingForHead: forHead, namedByConnection: named)
}

/// A head that arrives in pieces is judged like one that arrives at once: every prefix is incomplete.
private func checkPrefixes(_ p: UnsafeRawBufferPointer, _ length: Int, _ maxHead: Int) {
    var head = ResponseHead()
    for k in interestingPrefixes(p, length) {
        let r = withExactCopy(p, count: k) { head.parse($0, maxHead: maxHead) }
        invariant(r == .incomplete, "the first \(k) of \(length) bytes give \(r), not .incomplete")
    }
    let r = withExactCopy(p, count: length) { head.parse($0, maxHead: maxHead) }
    invariant(r == .complete(length: length), "the head alone gives \(r)")
}

/// Version, status, reason and fields written canonically parse to the same values.
private func checkReserialized(_ v: ResponseView) {
    var out = Array("HTTP/1.\(v.isHTTP11 ? 1 : 0) \(v.status)".utf8)
    if !v.reason.isEmpty { out += [0x20] + v.reason }
    out += [0x0D, 0x0A]
    serialize(v.fields, into: &out)
    var head = ResponseHead()
    withExactBuffer(out) { raw in
        let r = head.parse(raw, maxHead: out.count)
        invariant(r == .complete(length: out.count), "re-serialized \(escaped(out)) gives \(r)")
        let again = check(head, raw, out.count, out.count)
        invariant(again == v, "re-serialized \(escaped(out)) parses to \(again), not \(v)")
    }
}
