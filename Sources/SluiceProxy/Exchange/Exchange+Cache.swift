import SluiceHTTP

/// The exchange answered by the cache (DESIGN §5: a hit is an exchange that needs no
/// backend; a coalesced waiter is one fed by another's response). Loop thread, pure.
extension Exchange {
    /// The request waits for the head of a fill another exchange runs for its key.
    mutating func coalesce(now: UInt64) {
        enter(.coalescing, now &+ policy.response)
    }

    /// A stored or shared response answers the request: its head goes out now and the body
    /// follows from the cache (`length` nil: a shared body whose end only its fill knows,
    /// re-chunked for an HTTP/1.1 client, raw then close for HTTP/1.0). HEAD has no body.
    mutating func cacheAnswer(status s: Int, length: Int?, draining: Bool, now: UInt64) -> ClientBodyMode {
        if method == .head || s == 304 || s == 204 || length == 0 {
            localAnswer(status: s, framing: .none, mode: .none, closeAfter: draining, now: now)
        } else if let length {
            localAnswer(status: s, framing: .contentLength(length), mode: .raw, closeAfter: draining, now: now)
        } else {
            localAnswer(
                status: s, framing: .chunked, mode: clientIsHTTP11 ? .chunked : .raw, closeAfter: draining || !clientIsHTTP11,
                now: now)
        }
        return bodyMode
    }

    /// The fill this request waited on gave up before sharing a body: the request goes to a
    /// backend itself, as a miss.
    mutating func coalescingEnded() -> ExchangeAction {
        guard state == .coalescing else { return .wait }
        enter(.routing, .max)
        return .pick(failover: false)
    }
}
