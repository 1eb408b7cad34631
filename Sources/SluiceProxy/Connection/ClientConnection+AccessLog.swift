import SluiceBuffers
import SluiceConfig
import SluiceSystem

extension ClientConnection {
    /// Writes one access-log line for the exchange that just ended (or was cut).
    func logExchange(aborted: Bool) {
        let backendID = exchange.firstByteAt != 0 ? backend?.id : nil
        let seconds = Double(worker.loop.now &- exchange.startedAt) / 1e9
        let attempt = exchange.upstreamStartedAt != 0 ? Double(worker.loop.now &- exchange.upstreamStartedAt) / 1e9 : nil
        if listener.isCurrent && !(cluster?.retired ?? false) {
            worker.metrics.count(
                listener: listenerIndex, cluster: cluster?.currentIndex, code: status, backendID: backendID, seconds: seconds,
                backendSeconds: attempt)
        } else {
            worker.metrics.countRetired(
                listener: listenerName, cluster: cluster?.runtime.name, code: status, backendID: backendID, seconds: seconds,
                backendSeconds: attempt)
        }
        let log = worker.accessLog
        guard log.enabled else { return }
        let now = worker.loop.now
        let wall = Clock.wallNanos()
        let fh = UnsafeRawPointer(forwardedHead.base)
        let b = log.buffer
        if log.format == .combined {
            appendCombined(log, wall: wall, fh: fh)
            return
        }
        b.append("{\"time\":\"")
        log.appendRFC3339(wall)
        b.append("\",\"client\":\"")
        clientIP.withUnsafeBytes { b.append($0) }
        b.append("\",\"method\":\"")
        log.appendJSONEscaped(fh, logMethodEnd)
        b.append("\",\"path\":\"")
        log.appendJSONEscaped(fh + logPathStart, logPathEnd - logPathStart)
        b.append("\",\"status\":")
        b.append(decimal: aborted && status == 0 ? 0 : status)
        b.append(",\"bytes\":")
        b.append(decimal: bytesSent)
        b.append(",\"listener\":")
        log.appendJSONString(listenerName)
        b.append(",\"cluster\":")
        if let c = cluster?.runtime { log.appendJSONString(c.name) } else { b.append("null") }
        b.append(",\"backend\":")
        if let be = backend, status != 0, exchange.firstByteAt != 0 { log.appendJSONString(be.name) } else { b.append("null") }
        b.append(",\"tried\":[")
        if let c = cluster?.runtime {
            for (k, i) in tried.enumerated() {
                if k > 0 { b.append(UInt8(ascii: ",")) }
                log.appendJSONString(c.backends[i].name)
            }
        }
        b.append("],\"duration_ms\":")
        appendMillis(b, now &- exchange.startedAt)
        b.append(",\"upstream_ms\":")
        if exchange.upstreamStartedAt != 0 && exchange.firstByteAt != 0 {
            appendMillis(b, exchange.firstByteAt &- exchange.upstreamStartedAt)
        } else {
            b.append("null")
        }
        b.append(",\"request_id\":\"")
        log.appendJSONEscaped(fh + requestIdStart, requestIdEnd - requestIdStart)
        b.append("\"")
        if let r = cacheResult {
            b.append(",\"cache\":\"")
            b.append(r.logName)
            b.append("\"")
        }
        if aborted { b.append(",\"aborted\":true") }
        b.append("}\n")
        log.lineDone()
    }

    /// A request refused while its head was parsed: no method or path worth logging.
    func logBadRequest(_ code: Int) {
        if listener.isCurrent {
            worker.metrics.count(listener: listenerIndex, cluster: nil, code: code, backendID: nil, seconds: nil)
        } else {
            worker.metrics.countRetired(listener: listenerName, cluster: nil, code: code, backendID: nil, seconds: nil)
        }
        let log = worker.accessLog
        guard log.enabled else { return }
        let b = log.buffer
        let wall = Clock.wallNanos()
        if log.format == .combined {
            clientIP.withUnsafeBytes { b.append($0) }
            b.append(" - - ")
            log.appendCombinedTime(wall)
            b.append(" \"-\" ")
            b.append(decimal: code)
            b.append(" ")
            if bytesSent > 0 { b.append(decimal: bytesSent) } else { b.append("-") }
            b.append(" \"-\" \"-\"\n")
            log.lineDone()
            return
        }
        b.append("{\"time\":\"")
        log.appendRFC3339(wall)
        b.append("\",\"client\":\"")
        clientIP.withUnsafeBytes { b.append($0) }
        b.append("\",\"method\":null,\"path\":null,\"status\":")
        b.append(decimal: code)
        b.append(",\"bytes\":")
        b.append(decimal: bytesSent)
        b.append(",\"listener\":")
        log.appendJSONString(listenerName)
        b.append(",\"cluster\":null,\"backend\":null,\"tried\":[],\"duration_ms\":0,\"upstream_ms\":null,\"request_id\":null}\n")
        log.lineDone()
    }

    private func appendMillis(_ b: ByteBuffer, _ nanos: UInt64) {
        let us = Int(nanos / 1000)
        b.append(decimal: us / 1000)
        b.append(UInt8(ascii: "."))
        let frac = us % 1000
        b.append(UInt8(48 + frac / 100))
        b.append(UInt8(48 + frac / 10 % 10))
        b.append(UInt8(48 + frac % 10))
    }

    /// Apache combined: host - - [time] "request line" status bytes "referer" "user-agent"
    private func appendCombined(_ log: AccessLogWriter, wall: UInt64, fh: UnsafeRawPointer) {
        let b = log.buffer
        clientIP.withUnsafeBytes { b.append($0) }
        b.append(" - - ")
        log.appendCombinedTime(wall)
        b.append(" \"")
        b.append(fh, logPathEnd)
        b.append(exchange.clientIsHTTP11 ? " HTTP/1.1\" " : " HTTP/1.0\" ")
        b.append(decimal: status)
        b.append(" ")
        if bytesSent > 0 { b.append(decimal: bytesSent) } else { b.append("-") }
        b.append(" \"")
        appendForwardedField(log, "referer")
        b.append("\" \"")
        appendForwardedField(log, "user-agent")
        b.append("\"\n")
        log.lineDone()
    }

    /// Finds a field in the forwarded head by lowercase name and appends its value (or -).
    private func appendForwardedField(_ log: AccessLogWriter, _ name: StaticString) {
        let p = UnsafeRawPointer(forwardedHead.base)
        let end = forwardedHead.writeIndex
        var i = 0
        while i < end {
            var j = i
            while j + 1 < end && !(p.load(fromByteOffset: j, as: UInt8.self) == 13 && p.load(fromByteOffset: j + 1, as: UInt8.self) == 10) {
                j += 1
            }
            let n = name.utf8CodeUnitCount
            if j - i > n + 1, p.load(fromByteOffset: i + n, as: UInt8.self) == UInt8(ascii: ":") {
                var same = true
                for k in 0..<n {
                    var c = p.load(fromByteOffset: i + k, as: UInt8.self)
                    if c >= 65 && c <= 90 { c |= 0x20 }
                    if c != name.utf8Start[k] { same = false; break }
                }
                if same {
                    var v = i + n + 1
                    while v < j && p.load(fromByteOffset: v, as: UInt8.self) == 32 { v += 1 }
                    for k in v..<j {
                        let c = p.load(fromByteOffset: k, as: UInt8.self)
                        if c == UInt8(ascii: "\"") { log.buffer.append("\\\"") } else { log.buffer.append(c) }
                    }
                    return
                }
            }
            i = j + 2
        }
        log.buffer.append("-")
    }
}
