import SluiceEventLoop
import SluiceSystem

/// One question asked of the resolvers in order until one gives a usable reply.
///
/// Loop thread only; never blocks. Per resolver: a fresh connected non-blocking UDP socket
/// (the kernel drops datagrams from any other address) and a fresh random id. A datagram that
/// is not the reply to this query (`DNSMessage.parseReply` fails: wrong id, wrong question,
/// garbage, too large) is dropped and the query keeps waiting, so a stray datagram cannot end
/// it. SERVFAIL, REFUSED, a socket failure or `timeout` without a good reply moves to the next
/// resolver; each is asked once. NOERROR is a success; any other rcode and a truncated reply
/// are final errors. On every end the socket is deregistered and closed and the timer
/// cancelled, before `done` runs (exactly once, unless `cancel()` came first).
final class DNSQuery: EventHandler, TimerTarget {
    let loop: EventLoop
    let name: String
    let type: DNSType
    let resolvers: [SocketAddress]
    let timeout: UInt64
    var timerSlot = TimerSlot()
    /// Datagrams dropped because they failed validation (for tests).
    private(set) var dropped = 0
    private var droppedThisTry = 0

    private var done: ((Result<Answer, DiscoveryError>) -> Void)?
    private var index = -1
    private var fd: Int32 = -1
    private var id: UInt16 = 0
    private var deadline: UInt64 = 0
    private var socketError: String?
    private var failures: [String] = []
    private var buffer: [UInt8] = []

    /// The largest datagram read; anything longer cannot be a reply to our 1232-byte offer
    /// from a well-behaved server, but is read whole (MSG_TRUNC tells its size) and dropped.
    static let bufferSize = 65_536

    init(
        loop: EventLoop, name: String, type: DNSType, resolvers: [SocketAddress], timeout: UInt64,
        done: @escaping (Result<Answer, DiscoveryError>) -> Void
    ) {
        self.loop = loop
        self.name = name
        self.type = type
        self.resolvers = resolvers
        self.timeout = timeout
        self.done = done
    }

    /// A NOERROR reply and the resolver that gave it.
    struct Answer {
        var reply: DNSReply
        var resolver: SocketAddress
    }

    /// "A query for api.example.com." (error messages start with it).
    var label: String { "\(type) query for \(name.hasSuffix(".") ? name : name + ".")" }

    var isActive: Bool { done != nil }

    /// Asks the first resolver. `done` may run before this returns when no resolver can be
    /// asked at all (every socket or send fails at once).
    func start() {
        buffer = [UInt8](repeating: 0, count: Self.bufferSize)
        next()
    }

    /// Ends the query without calling `done`.
    func cancel() {
        closeSocket()
        done = nil
    }

    private var resolver: SocketAddress { resolvers[index] }

    private func next() {
        closeSocket()
        index += 1
        guard index < resolvers.count else {
            let detail = resolvers.isEmpty ? "no resolvers configured" : failures.joined(separator: "; ")
            return finish(.failure(DiscoveryError("\(label): no answer: \(detail)")))
        }
        id = UInt16.random(in: 0...UInt16.max)
        socketError = nil
        droppedThisTry = 0
        let query: [UInt8]
        do {
            query = try DNSMessage.query(id: id, name: name, type: type)
        } catch {
            return finish(.failure(DiscoveryError("\(label): \(error)")))
        }
        do {
            fd = try UDPSocket.connected(to: resolver)
            do {
                try loop.register(fd, self, events: EpollEvents.readable | EpollEvents.hangup)
            } catch {
                Socket.close(fd)
                fd = -1
                throw error
            }
            if case .wouldBlock = try UDPSocket.send(fd, query) {
                failures.append("resolver \(resolver): send would block")
                return next()
            }
        } catch {
            failures.append("resolver \(resolver): \(error)")
            return next()
        }
        deadline = Clock.monotonicNanos() &+ timeout
        loop.arm(self, at: deadline)
    }

    func handleEvent(_ events: UInt32) {
        var errors = 0
        while fd >= 0 {
            let r: IOResult<(Int, SocketAddress)>
            do {
                r = try UDPSocket.receive(fd, into: &buffer)
            } catch {
                // ECONNREFUSED from an ICMP port unreachable: remembered, not final (it could be
                // forged as easily as a datagram); the timeout decides.
                socketError = "\(error)"
                errors += 1
                if errors >= 8 { return }
                continue
            }
            guard case .done(let (n, _)) = r else { return }
            guard n <= buffer.count else {
                dropped += 1
                droppedThisTry += 1
                continue
            }
            let reply: DNSReply
            do {
                reply = try DNSMessage.parseReply(Array(buffer[..<n]), id: id, name: name, type: type)
            } catch {
                dropped += 1
                droppedThisTry += 1
                continue
            }
            return answered(reply)
        }
    }

    private func answered(_ reply: DNSReply) {
        let from = "resolver \(resolver)"
        if reply.truncated {
            return finish(
                .failure(DiscoveryError("\(label): truncated answer: record set too large for UDP, TCP is not supported (\(from))")))
        }
        switch reply.rcode {
        case .noError:
            finish(.success(Answer(reply: reply, resolver: resolver)))
        case .servFail, .refused:
            failures.append("\(from) answered \(reply.rcode)")
            next()
        case .nxDomain:
            finish(.failure(DiscoveryError("\(label): NXDOMAIN, no such name (\(from))")))
        default:
            finish(.failure(DiscoveryError("\(label): \(from) answered \(reply.rcode)")))
        }
    }

    func timerFired(now: UInt64) {
        guard fd >= 0, now >= deadline else { return }
        var text = "resolver \(resolver): no answer within \(timeout / 1_000_000) ms"
        if let e = socketError { text += " (\(e))" }
        if droppedThisTry > 0 { text += " (\(droppedThisTry) bad datagrams dropped)" }
        failures.append(text)
        next()
    }

    private func closeSocket() {
        if fd >= 0 {
            loop.deregister(fd)
            Socket.close(fd)
            fd = -1
        }
        loop.cancelTimer(self)
    }

    private func finish(_ result: Result<Answer, DiscoveryError>) {
        closeSocket()
        buffer = []
        let d = done
        done = nil
        d?(result)
    }
}
