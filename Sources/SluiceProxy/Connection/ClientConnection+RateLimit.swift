import SluiceBalancing
import SluiceHTTP
import SluiceSystem

/// Per-client rate limits at routing (DESIGN §3 "Rate limits"): the route's process-wide GCRA
/// table decides before any cluster or backend is picked; a refusal is a 429 with the exact
/// `Retry-After`, counted in `rate_limited_total` and logged like any answer.
extension ClientConnection {
    /// Checks the request whose head is at `p` against route `route`'s `rate_limit` (if any).
    /// True when it was refused: the head is consumed and the 429 is on its way. Loop thread;
    /// a hash of the key and one table check (see `RateLimitTable`), no allocation, no lock.
    func refusedByRateLimit(_ p: UnsafeRawPointer, route: Int, headLength: Int) -> Bool {
        let snap = listener.snapshot
        guard let rl = snap.rateLimits.byListener[listenerIndex][route] else { return false }
        let key = rateLimitKey(p, header: rl.header)
        // A fresh clock, not the loop's (read at the start of its batch): the table is shared,
        // and a worker whose batch began before another worker's TAT update would see that
        // client a moment in the past and refuse its last allowed request with a 1 s wait.
        guard case .refused(let wait) = rl.table.check(key: key, now: Clock.monotonicNanos()) else { return false }
        channel.inBuf!.consume(headLength)
        headStarted = false
        let wc = listener.clusters[rl.cluster]
        cluster = wc
        if listener.isCurrent, let ci = wc.currentIndex {
            worker.metrics.countRateLimited(listener: listenerIndex, cluster: ci)
        } else {
            worker.metrics.countRetiredRateLimited(listener: listenerName, cluster: wc.runtime.name)
        }
        run(exchange.rateLimited(ErrorAnswer(429, "rate limit exceeded", retryAfter: RateLimit.retryAfterSeconds(wait: wait))))
        return true
    }

    /// The client's key: the value of field `header` (lowercased name; the first such field),
    /// or, without it or with `client_ip`, the client address. Reads the raw head in place.
    func rateLimitKey(_ p: UnsafeRawPointer, header: [UInt8]) -> UInt64 {
        if !header.isEmpty, let v = Self.fieldValue(p, head.fields, named: header) { return RateLimitKey.header(v) }
        return clientIP.withUnsafeBytes { RateLimitKey.address($0) }
    }

    /// The value of the first field named `name` (lowercase ASCII; field names compare without
    /// case), or nil. A scan of the parsed fields' names; no allocation.
    static func fieldValue(_ p: UnsafeRawPointer, _ fields: [HeaderField], named name: [UInt8]) -> UnsafeRawBufferPointer? {
        name.withUnsafeBufferPointer { n in
            for f in fields where Int(f.nameEnd - f.nameStart) == n.count {
                var k = 0
                while k < n.count {
                    var ch = p.load(fromByteOffset: Int(f.nameStart) + k, as: UInt8.self)
                    if ch >= 65 && ch <= 90 { ch |= 0x20 }
                    if ch != n[k] { break }
                    k += 1
                }
                if k == n.count {
                    return UnsafeRawBufferPointer(start: p + Int(f.valueStart), count: Int(f.valueEnd - f.valueStart))
                }
            }
            return nil
        }
    }
}
