import SluiceEventLoop
import SluiceSystem

/// A worker's own SO_REUSEPORT listening socket for one listener.
///
/// Loop thread only. Accepts until EAGAIN; past `limits.max_connections` (process-wide)
/// it stops accepting and resumes when a connection closes.
final class ListenerHandler: EventHandler {
    unowned(unsafe) let worker: Worker
    let fd: Int32
    let name: String
    let listenerIndex: Int
    var pending = false
    var stopped = false
    private var peer = SocketAddress(storage: .init(), length: 0)

    init(worker: Worker, fd: Int32, name: String, listenerIndex: Int) {
        self.worker = worker
        self.fd = fd
        self.name = name
        self.listenerIndex = listenerIndex
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

    func stop() {
        guard !stopped else { return }
        stopped = true
        worker.loop.deregister(fd)
        Socket.close(fd)
    }
}
