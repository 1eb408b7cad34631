import SluiceEventLoop
import SluiceSystem

/// A worker's own SO_REUSEPORT listening socket for one listener.
///
/// Loop thread only. Accepts until EAGAIN; past `limits.max_connections` (process-wide)
/// it stops accepting and resumes when a connection closes.
final class ListenerHandler: EventHandler {
    unowned(unsafe) let worker: Worker
    let fd: Int32
    /// Name, and position in `snapshot`. A reload that keeps the listener moves both to the
    /// new snapshot; one that removes it leaves them on the last snapshot that had it, so the
    /// connections it still has finish their requests with consistent indices.
    var name: String
    var listenerIndex: Int
    private(set) var snapshot: Snapshot
    /// The worker's state for `snapshot`'s clusters (what its requests are routed to).
    private(set) var clusters: [WorkerCluster]
    /// A reload removed this listener: it accepts no more and its connections drain.
    var removed = false
    /// The configured address (port 0 as written) and the bound one.
    let configured: SocketAddress
    /// Client connections of this listener open on this worker.
    var connections = 0
    var pending = false
    var stopped = false
    private var peer = SocketAddress(storage: .init(), length: 0)

    /// `snapshot` is the worker's current one (the listener starts on the worker's clusters).
    init(worker: Worker, fd: Int32, name: String, listenerIndex: Int, snapshot: Snapshot, configured: SocketAddress) {
        precondition(snapshot === worker.snapshot, "a listener starts on its worker's current snapshot")
        self.worker = worker
        self.clusters = worker.clusters
        self.fd = fd
        self.name = name
        self.listenerIndex = listenerIndex
        self.snapshot = snapshot
        self.configured = configured
    }

    func handleEvent(_ events: UInt32) {
        pending = true
        acceptAll()
    }

    func resume() {
        if pending && !stopped { acceptAll() }
    }

    func acceptAll() {
        while pending && !stopped {
            guard worker.shared.tryReserveConnection() else { return }
            do {
                switch try Socket.accept(fd, peer: &peer) {
                case .done(let cfd):
                    worker.adopt(fd: cfd, peer: peer, listener: self)
                case .wouldBlock:
                    worker.shared.connectionClosed()
                    pending = false
                }
            } catch {
                // EMFILE, ECONNABORTED...: give the slot back and try again on the next event.
                worker.shared.connectionClosed()
                pending = false
            }
        }
    }

    /// Moves the listener to the worker's new snapshot and its clusters (a reload that keeps it).
    func follow(_ snapshot: Snapshot, _ clusters: [WorkerCluster]) {
        self.snapshot = snapshot
        self.clusters = clusters
    }

    /// True while `listenerIndex` indexes the worker's current snapshot (per-listener counters).
    @inline(__always) var isCurrent: Bool { snapshot === worker.snapshot }

    func stop() {
        guard !stopped else { return }
        stopped = true
        worker.loop.deregister(fd)
        Socket.close(fd)
    }
}
