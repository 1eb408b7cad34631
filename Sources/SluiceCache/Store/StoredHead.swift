import SluiceBuffers
import SluiceHTTP

/// The head of a stored response, and the head of an answer made from it.
///
/// Pure, loop thread. `make` runs once per stored response (it allocates the stored copy);
/// `writeAnswer` runs per hit and allocates nothing.
public enum StoredHead {
    /// The status line and the end-to-end fields of `r` (RFC 9111 §3.1): hop-by-hop fields,
    /// the fields `Connection` names, the framing (`Content-Length`, `Transfer-Encoding`) and
    /// `Age` are left out; each line ends in CRLF, without the final empty line.
    public static func make(_ r: ResponseHead, _ p: UnsafeRawPointer) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(r.length)
        out.append(contentsOf: "HTTP/1.1 ".utf8)
        appendDecimal(r.status, to: &out)
        out.append(0x20)
        for i in r.reasonStart..<r.reasonEnd { out.append(p.load(fromByteOffset: i, as: UInt8.self)) }
        out.append(contentsOf: [13, 10])
        for i in 0..<r.fields.count {
            let f = r.fields[i]
            switch f.kind {
            case .connection, .keepAlive, .proxyConnection, .te, .transferEncoding, .trailer, .upgrade, .contentLength:
                continue
            default:
                if r.connectionNamesFields && r.connectionNames(p, field: i) { continue }
                if isAge(p, f) { continue }
            }
            for k in Int(f.nameStart)..<Int(f.valueEnd) { out.append(p.load(fromByteOffset: k, as: UInt8.self)) }
            out.append(contentsOf: [13, 10])
        }
        return out
    }

    /// Writes an answer from `stored` (a `make` head): the stored fields, then `Age`, the
    /// framing for `mode`, `Cache-Status`, and `Connection` as the client's connection needs.
    /// `status`: the status line is rewritten when it differs (206, 304, 416 from a 200).
    public static func writeAnswer(
        _ stored: [UInt8], into o: ByteBuffer, age: Int, length: Int?, chunked: Bool, cacheStatus: StaticString,
        keepAlive: Bool, clientIsHTTP11: Bool
    ) {
        stored.withUnsafeBytes { o.append($0) }
        writeAnswerTail(
            into: o, age: age, length: length, chunked: chunked, cacheStatus: cacheStatus, keepAlive: keepAlive,
            clientIsHTTP11: clientIsHTTP11)
    }

    /// The fields an answer from the cache adds after the stored ones, and the empty line.
    public static func writeAnswerTail(
        into o: ByteBuffer, age: Int, length: Int?, chunked: Bool, cacheStatus: StaticString, keepAlive: Bool,
        clientIsHTTP11: Bool
    ) {
        o.append("Age: ")
        o.append(decimal: max(0, age))
        o.append("\r\n")
        if let length {
            o.append("Content-Length: ")
            o.append(decimal: length)
            o.append("\r\n")
        } else if chunked {
            o.append("Transfer-Encoding: chunked\r\n")
        }
        o.append("Cache-Status: ")
        o.append(cacheStatus)
        o.append("\r\n")
        if !keepAlive {
            o.append("Connection: close\r\n")
        } else if !clientIsHTTP11 {
            o.append("Connection: keep-alive\r\n")
        }
        o.append("\r\n")
    }

    /// The stored head updated by a 304 (RFC 9111 §4.3.4): the stored status line, the stored
    /// fields the 304 does not name, then the 304's end-to-end fields. Once per revalidation.
    /// `keepSetCookie` false leaves the 304's `Set-Cookie` fields out (the stored copy);
    /// true keeps them (the answer to the client the 304 was for).
    public static func merge(_ stored: [UInt8], with r: ResponseHead, _ p: UnsafeRawPointer, keepSetCookie: Bool) -> [UInt8] {
        let fresh = make(r, p)
        var names = Set<[UInt8]>()
        let setCookie = Array("set-cookie".utf8)
        let freshLines = lines(fresh).dropFirst().filter { keepSetCookie || name(of: $0) != setCookie }
        for l in freshLines { names.insert(name(of: l)) }
        let old = lines(stored)
        var out: [UInt8] = []
        out.reserveCapacity(stored.count + fresh.count)
        if let status = old.first { out.append(contentsOf: status + [13, 10]) }
        for l in old.dropFirst() where !names.contains(name(of: l)) { out.append(contentsOf: l + [13, 10]) }
        for l in freshLines { out.append(contentsOf: l + [13, 10]) }
        return out
    }

    /// The CRLF-terminated lines of a stored head, without their CRLF.
    static func lines(_ h: [UInt8]) -> [ArraySlice<UInt8>] {
        var out: [ArraySlice<UInt8>] = []
        var start = 0
        var i = 0
        while i + 1 < h.count {
            if h[i] == 13 && h[i + 1] == 10 {
                out.append(h[start..<i])
                i += 2
                start = i
            } else {
                i += 1
            }
        }
        return out
    }

    /// A field line's name, lowercased.
    static func name(of line: ArraySlice<UInt8>) -> [UInt8] {
        let end = line.firstIndex(of: UInt8(ascii: ":")) ?? line.endIndex
        return line[line.startIndex..<end].map { $0 >= 65 && $0 <= 90 ? $0 | 0x20 : $0 }
    }

    @inline(__always)
    static func isAge(_ p: UnsafeRawPointer, _ f: HeaderField) -> Bool {
        guard f.nameEnd - f.nameStart == 3 else { return false }
        let a = p.load(fromByteOffset: Int(f.nameStart), as: UInt8.self) | 0x20
        let g = p.load(fromByteOffset: Int(f.nameStart) + 1, as: UInt8.self) | 0x20
        let e = p.load(fromByteOffset: Int(f.nameStart) + 2, as: UInt8.self) | 0x20
        return a == UInt8(ascii: "a") && g == UInt8(ascii: "g") && e == UInt8(ascii: "e")
    }

    static func appendDecimal(_ v: Int, to out: inout [UInt8]) {
        out.append(contentsOf: String(v).utf8)
    }
}
