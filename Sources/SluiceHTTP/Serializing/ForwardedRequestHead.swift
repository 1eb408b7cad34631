import SluiceBuffers

/// The request head as a proxy forwards it (RFC 9110 §7.6), written into a buffer.
///
/// Pure: reads a parsed `RequestHead` and the bytes it was parsed from. Hop-by-hop fields
/// (and the fields `Connection` names) are removed; the framing is restated (Content-Length
/// or chunked); every X-Forwarded-For is folded into one list ending with the client;
/// X-Forwarded-Proto is set; an X-Request-Id is kept or added; absolute-form becomes
/// origin-form with Host from the authority. No allocation.
package struct ForwardedRequestHead {
    /// Offsets in the written head of the method, the path and the request id's value (for
    /// the access log, which reads them from the same bytes).
    package var methodEnd = 0
    package var pathStart = 0
    package var pathEnd = 0
    package var requestIdStart = 0
    package var requestIdEnd = 0

    package init() {}

    /// Writes the head of `head` (parsed from `p`) into `o`, replacing what `o` held.
    /// `newRequestID` appends an id to `o` when the request has none.
    package mutating func write(
        _ head: RequestHead, _ p: UnsafeRawPointer, into o: ByteBuffer, clientIP: UnsafeRawBufferPointer, https: Bool,
        newRequestID: (ByteBuffer) -> Void
    ) {
        o.clear()
        o.append(p, head.methodEnd)
        methodEnd = o.writeIndex
        o.append(UInt8(ascii: " "))
        pathStart = o.writeIndex
        let pathLength = head.pathEnd - head.pathStart
        if pathLength == 0 || p.load(fromByteOffset: head.pathStart, as: UInt8.self) == UInt8(ascii: "?") {
            o.append(UInt8(ascii: "/"))  // absolute-form without a path
        }
        o.append(p + head.pathStart, pathLength)
        pathEnd = o.writeIndex
        o.append(" HTTP/1.1\r\n")
        var hasXFF = false
        requestIdStart = 0
        requestIdEnd = 0
        for i in 0..<head.fields.count {
            let f = head.fields[i]
            switch f.kind {
            case .connection, .keepAlive, .proxyConnection, .te, .upgrade, .transferEncoding, .trailer, .contentLength,
                .xForwardedProto:
                continue
            case .host where head.isAbsoluteForm:
                continue
            case .xForwardedFor:
                hasXFF = true
                continue
            default:
                if head.connectionNamesFields && head.connectionNames(p, field: i) { continue }
            }
            if f.kind == .xRequestId {
                o.append("X-Request-Id: ")
                requestIdStart = o.writeIndex
                o.append(p + Int(f.valueStart), Int(f.valueEnd - f.valueStart))
                requestIdEnd = o.writeIndex
                o.append("\r\n")
                continue
            }
            o.append(p + Int(f.nameStart), Int(f.valueEnd - f.nameStart))
            o.append("\r\n")
        }
        if head.isAbsoluteForm {
            o.append("Host: ")
            o.append(p + head.authorityStart, head.authorityEnd - head.authorityStart)
            o.append("\r\n")
        }
        // Every X-Forwarded-For field folded into one list, in order, then the client.
        o.append("X-Forwarded-For: ")
        if hasXFF {
            for f in head.fields where f.kind == .xForwardedFor && f.valueEnd > f.valueStart {
                o.append(p + Int(f.valueStart), Int(f.valueEnd - f.valueStart))
                o.append(", ")
            }
        }
        o.append(clientIP)
        o.append("\r\n")
        o.append(https ? "X-Forwarded-Proto: https\r\n" : "X-Forwarded-Proto: http\r\n")
        if requestIdEnd == 0 {
            o.append("X-Request-Id: ")
            requestIdStart = o.writeIndex
            newRequestID(o)
            requestIdEnd = o.writeIndex
            o.append("\r\n")
        }
        switch head.framing {
        case .contentLength(let n):
            o.append("Content-Length: ")
            o.append(decimal: n)
            o.append("\r\n")
        case .chunked:
            o.append("Transfer-Encoding: chunked\r\n")
        default:
            break
        }
        if head.upgradeIndex >= 0 {
            let f = head.fields[head.upgradeIndex]
            o.append("Connection: upgrade\r\nUpgrade: ")
            o.append(p + Int(f.valueStart), Int(f.valueEnd - f.valueStart))
            o.append("\r\n")
        }
        o.append("\r\n")
    }
}
