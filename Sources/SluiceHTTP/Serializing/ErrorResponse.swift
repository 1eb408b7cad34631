import SluiceBuffers

/// Sluice's own answer when it cannot forward a request: a short plain-text response that
/// closes the connection (RFC 9110 §15). Pure, no allocation.
package enum ErrorResponse {
    /// Appends the whole response for `status` with `reason` as its one-line body to `o`
    /// (after any earlier answers still unsent there, as pipelining needs). `retryAfter`: seconds for a `Retry-After` field (a 503 or
    /// 429), or nil. `close`: say `Connection: close` (the connection ends after it); false
    /// for a refusal of a complete request on a connection that goes on. Returns the body's length.
    @discardableResult
    /// `cacheStatus`: a `Cache-Status` value for an answer of a cached route.
    package static func write(
        status: Int, reason: StaticString, retryAfter: Int?, close: Bool = true, cacheStatus: StaticString? = nil,
        into o: ByteBuffer
    ) -> Int {
        o.append("HTTP/1.1 ")
        o.append(decimal: status)
        o.append(" ")
        o.append(reasonPhrase(status))
        o.append("\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ")
        o.append(decimal: reason.utf8CodeUnitCount + 1)
        o.append(close ? "\r\nConnection: close\r\n" : "\r\n")
        if let retryAfter {
            o.append("Retry-After: ")
            o.append(decimal: retryAfter)
            o.append("\r\n")
        }
        if let cacheStatus {
            o.append("Cache-Status: ")
            o.append(cacheStatus)
            o.append("\r\n")
        }
        o.append("\r\n")
        o.append(reason)
        o.append("\n")
        return reason.utf8CodeUnitCount + 1
    }

    /// The reason phrase Sluice writes for the statuses it answers itself.
    package static func reasonPhrase(_ code: Int) -> StaticString {
        switch code {
        case 400: return "Bad Request"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 408: return "Request Timeout"
        case 413: return "Content Too Large"
        case 414: return "URI Too Long"
        case 429: return "Too Many Requests"
        case 431: return "Request Header Fields Too Large"
        case 502: return "Bad Gateway"
        case 503: return "Service Unavailable"
        case 504: return "Gateway Timeout"
        case 505: return "HTTP Version Not Supported"
        default: return "Error"
        }
    }
}
