import SluiceBuffers

/// How a response body goes to the client after the proxy re-frames it.
package enum ClientBodyMode: Equatable, Sendable {
    /// No body (HEAD, 204, 304, a 1xx or 101 head).
    case none
    /// As it came (Content-Length; or chunked/close-delimited to an HTTP/1.0 client, which
    /// then learns the end from the close).
    case raw
    /// Re-chunked for an HTTP/1.1 client (a chunked or close-delimited backend body).
    case chunked
}

/// The response head as a proxy forwards it to the client (RFC 9110 §7.6, RFC 9112 §6).
///
/// Pure, no allocation. Always `HTTP/1.1` with the backend's status and reason; hop-by-hop
/// fields and the fields `Connection` names are removed; the framing is restated for `mode`
/// (Content-Length kept only for a raw body of known length, `Transfer-Encoding: chunked`
/// when re-chunking); `Connection: close` when the connection ends after it, `keep-alive`
/// for an HTTP/1.0 client that keeps it; a 101 keeps its `Upgrade` and says
/// `Connection: upgrade`.
package enum ForwardedResponseHead {
    package static func write(
        _ r: ResponseHead, _ p: UnsafeRawPointer, into o: ByteBuffer, mode: ClientBodyMode, framing: BodyFraming,
        upgrade: Bool, keepAlive: Bool, clientIsHTTP11: Bool
    ) {
        let isFinal = r.status >= 200
        o.append("HTTP/1.1 ")
        o.append(decimal: r.status)
        o.append(" ")
        o.append(p + r.reasonStart, r.reasonEnd - r.reasonStart)
        o.append("\r\n")
        for i in 0..<r.fields.count {
            let f = r.fields[i]
            switch f.kind {
            case .connection, .keepAlive, .proxyConnection, .te, .transferEncoding, .trailer:
                continue
            case .upgrade where !upgrade:
                continue
            case .contentLength where mode != .none || !isFinal:
                continue
            default:
                if r.connectionNamesFields && r.connectionNames(p, field: i) { continue }
            }
            o.append(p + Int(f.nameStart), Int(f.valueEnd - f.nameStart))
            o.append("\r\n")
        }
        if upgrade {
            o.append("Connection: upgrade\r\n")
        } else if isFinal {
            switch mode {
            case .raw:
                if case .contentLength(let n) = framing {
                    o.append("Content-Length: ")
                    o.append(decimal: n)
                    o.append("\r\n")
                }
            case .chunked:
                o.append("Transfer-Encoding: chunked\r\n")
            case .none:
                break
            }
            if !keepAlive {
                o.append("Connection: close\r\n")
            } else if !clientIsHTTP11 {
                o.append("Connection: keep-alive\r\n")
            }
        }
        o.append("\r\n")
    }
}

/// Chunked transfer coding, writing side (RFC 9112 §7.1): a proxy re-chunks what it decoded
/// (no extensions, no trailers). No allocation.
package enum ChunkedEncoder {
    /// One chunk: size in hex, CRLF, data, CRLF. An empty piece writes nothing (it would end the body).
    @inline(__always)
    package static func append(_ piece: UnsafeRawBufferPointer, to o: ByteBuffer) {
        guard piece.count > 0 else { return }
        o.append(hex: piece.count)
        o.append("\r\n")
        o.append(piece)
        o.append("\r\n")
    }

    /// The last chunk and the empty trailer section.
    @inline(__always)
    package static func appendEnd(to o: ByteBuffer) {
        o.append("0\r\n\r\n")
    }
}
