import Logging
import SluiceSystem
import Synchronization

/// The little state all workers share: the connection count and the access-log sink.
///
/// Touched per connection (not per request), with atomics.
final class SharedState: Sendable {
    let maxConnections: Int
    let connections = Atomic<Int>(0)
    let accessLog: AccessLogSink
    let registry: BackendRegistry
    let requestIDPrefix: String
    let logger: Logger
    /// Every worker's mailbox, by worker index (set once by `ProxyServer.start` before any
    /// loop runs; read-only after).
    nonisolated(unsafe) private(set) var inboxes: [WorkerInbox] = []

    init(maxConnections: Int, accessLog: AccessLogSink, registry: BackendRegistry, logger: Logger) {
        self.maxConnections = maxConnections
        self.accessLog = accessLog
        self.registry = registry
        self.logger = logger
        var g = SystemRandomNumberGenerator()
        let r = g.next() as UInt32
        requestIDPrefix = String(r, radix: 16).leftPadded(8) + "-"
    }

    /// Installs the workers' mailboxes; before the loops start, once.
    func install(inboxes: [WorkerInbox]) { self.inboxes = inboxes }

    /// Takes one connection slot; false when the limit is reached.
    func tryReserveConnection() -> Bool {
        let n = connections.wrappingAdd(1, ordering: .relaxed).newValue
        if n > maxConnections {
            connections.wrappingSubtract(1, ordering: .relaxed)
            return false
        }
        return true
    }

    func connectionClosed() {
        connections.wrappingSubtract(1, ordering: .relaxed)
    }
}

extension String {
    func leftPadded(_ n: Int) -> String {
        count >= n ? self : String(repeating: "0", count: n - count) + self
    }
}
