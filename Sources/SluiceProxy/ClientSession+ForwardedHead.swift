import Glibc
import SluiceBalancing
import SluiceEventLoop
import SluiceHTTP
import SluiceSystem

extension ClientSession {
    /// Serializes the request head as it goes to the backend (RFC 9110 §7.6: hop-by-hop removed,
    /// X-Forwarded-For appended, X-Forwarded-Proto set, X-Request-Id added when absent).
    func writeForwardedHead(_ p: UnsafeRawPointer) {
        let o = forwardedHead
        o.clear()
        o.append(p, head.methodEnd)
        logMethodEnd = o.writeIndex
        o.append(UInt8(ascii: " "))
        logPathStart = o.writeIndex
        let pathLength = head.pathEnd - head.pathStart
        if pathLength == 0 || p.load(fromByteOffset: head.pathStart, as: UInt8.self) == UInt8(ascii: "?") {
            o.append(UInt8(ascii: "/"))  // absolute-form without a path
        }
        o.append(p + head.pathStart, pathLength)
        logPathEnd = o.writeIndex
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
        clientIP.withUnsafeBytes { o.append($0) }
        o.append("\r\n")
        o.append(worker.isTLS(listener) ? "X-Forwarded-Proto: https\r\n" : "X-Forwarded-Proto: http\r\n")
        if requestIdEnd == 0 {
            o.append("X-Request-Id: ")
            requestIdStart = o.writeIndex
            worker.appendNewRequestID(to: o)
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
