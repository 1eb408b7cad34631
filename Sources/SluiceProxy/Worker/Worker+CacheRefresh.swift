import SluiceCache
import SluiceEventLoop
import SluiceSystem

/// Background refreshes of stale entries (`stale_while_revalidate`, RFC 5861 §3): the
/// request that finds its entry stale within the window is answered from it at once, and
/// the worker asks the backend again in the background, once per entry.
///
/// The refresh is an ordinary request over a Unix socket pair: one end is a `ClientConnection`
/// of the same listener (marked `refreshing`, so its lookup revalidates instead of serving),
/// the other a `RefreshSink` that discards the answer. So it gets the route, admission,
/// timeouts, retries, conditional revalidation and storing exactly as a client's miss does.
/// Loop thread.
extension Worker {
    /// Starts the refresh of `stale` with the request head `head` (as forwarded, ending in
    /// CRLF CRLF). False when it could not start (the entry may be refreshed by a later request).
    func startRefresh(of stale: CacheEntry, head: [UInt8], listener: ListenerHandler) -> Bool {
        guard !draining, !listener.removed, shared.tryReserveConnection() else { return false }
        guard let (inner, outer) = try? Socket.pair() else {
            shared.connectionClosed()
            return false
        }
        var bytes = Self.refreshHead(head)
        let sent = bytes.withUnsafeBytes { try? Socket.write(outer, $0.baseAddress!, $0.count) }
        guard case .done(let n)? = sent, n == bytes.count else {
            Socket.close(inner)
            Socket.close(outer)
            shared.connectionClosed()
            return false
        }
        let sink = RefreshSink(fd: outer, loop: loop)
        do {
            try loop.register(outer, sink)
        } catch {
            Socket.close(inner)
            Socket.close(outer)
            shared.connectionClosed()
            return false
        }
        adopt(fd: inner, peer: Self.refreshPeer, listener: listener, refreshing: stale)
        return true
    }

    /// The refresh's request head: the triggering request's forwarded head without the fields
    /// that belong to that client (`Cookie`, `Authorization`: a refresh acts for nobody, so it
    /// never fetches with one shopper's credentials what every shopper will get) and its
    /// `X-Request-Id` (the refresh gets its own), plus `Connection: close`.
    static func refreshHead(_ head: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(head.count + 24)
        var start = 0
        var first = true
        var i = 0
        while i + 1 < head.count {
            guard head[i] == 13 && head[i + 1] == 10 else {
                i += 1
                continue
            }
            let line = head[start..<i]
            if line.isEmpty { break }
            if first || !Self.isPersonal(line) {
                out.append(contentsOf: line)
                out.append(contentsOf: [13, 10])
            }
            first = false
            i += 2
            start = i
        }
        out.append(contentsOf: "Connection: close\r\n\r\n".utf8)
        return out
    }

    static func isPersonal(_ line: ArraySlice<UInt8>) -> Bool {
        for name in ["cookie:", "authorization:", "x-request-id:"] {
            let n = Array(name.utf8)
            if line.count >= n.count && zip(line.prefix(n.count), n).allSatisfy({ ($0 | 0x20) == $1 || $0 == $1 }) {
                return true
            }
        }
        return false
    }

    nonisolated(unsafe) static let refreshPeer: SocketAddress = (try? SocketAddress.resolve("127.0.0.1:0"))!
}

/// The far end of a background refresh: reads the answer and drops it; closes at its end.
final class RefreshSink: EventHandler {
    let fd: Int32
    unowned(unsafe) let loop: EventLoop
    private var closed = false
    nonisolated(unsafe) private static let scratch = UnsafeMutableRawPointer.allocate(byteCount: 16384, alignment: 16)

    init(fd: Int32, loop: EventLoop) {
        self.fd = fd
        self.loop = loop
    }

    func handleEvent(_ events: UInt32) {
        while !closed {
            switch try? Socket.read(fd, Self.scratch, 16384) {
            case .done(let n)? where n > 0: continue
            case .wouldBlock?: return
            default:
                closed = true
                loop.deregister(fd)
                Socket.close(fd)
            }
        }
    }
}
