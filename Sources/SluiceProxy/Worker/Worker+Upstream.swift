import Logging
import SluiceBalancing
import SluiceConfig
import SluiceEventLoop
import SluiceSystem
import SluiceTLS
import Synchronization

/// Backend connections of a worker: the idle pools per backend, connecting, sweeping.
/// Loop thread only.
extension Worker {

    /// A pooled idle connection to `backend`, or a new one (connect in progress). Nil on immediate failure.
    func upstreamConnection(to backend: BackendRuntime, fresh: Bool, tls: TLSClientContext?) -> UpstreamConnection? {
        if !fresh {
            while let up = pools[backend.id].popLast() {
                if up.closed { continue }
                up.reused = true
                return up
            }
        }
        do {
            let (fd, inProgress) = try Socket.connect(to: backend.address)
            Socket.setNoDelay(fd)
            var session: TLSConnection? = nil
            if let tls {
                guard let t = try? TLSConnection(client: tls, fd: fd, serverName: backend.serverName) else {
                    Socket.close(fd)
                    return nil
                }
                session = t
            }
            let up = UpstreamConnection(worker: self, fd: fd, backend: backend, connected: !inProgress, tls: session)
            up.channel.watchingWrite = inProgress  // registered with EPOLLOUT while connecting
            do {
                try loop.register(
                    fd, up,
                    events: inProgress
                        ? EpollEvents.readable | EpollEvents.hangup | EpollEvents.writable : EpollEvents.readable | EpollEvents.hangup)
            } catch {
                Socket.close(fd)
                return nil
            }
            up.handshakeStep()  // TLS over a connect that completed at once
            return up
        } catch {
            return nil
        }
    }

    func releaseUpstream(_ up: UpstreamConnection) {
        up.reused = true
        up.idleSince = loop.now
        up.releaseBuffers()
        // Draining, or its backend left the snapshot while this request ran: nobody would reuse it.
        if draining || up.backend.id >= live.count || live[up.backend.id] != ObjectIdentifier(up.backend.health) {
            up.close()
            return
        }
        pools[up.backend.id].append(up)
    }

    func discardIdle(_ up: UpstreamConnection) {
        let id = up.backend.id
        if let k = pools[id].firstIndex(where: { $0 === up }) { pools[id].remove(at: k) }
        up.close()
    }

    /// Closes pooled connections idle longer than their cluster's upstream_idle.
    func sweepPools() {
        let now = loop.now
        for c in snapshot.clusters {
            for b in c.backends where !pools[b.id].isEmpty {
                pools[b.id].removeAll { up in
                    if now &- up.idleSince > c.upstreamIdleTimeout || up.closed {
                        up.close()
                        return true
                    }
                    return false
                }
            }
        }
    }
}

/// Fires once a second to close expired idle backend connections.
final class PoolSweeper: TimerTarget {
    var timerSlot = TimerSlot()
    unowned let worker: Worker
    init(_ w: Worker) { worker = w }
    func timerFired(now: UInt64) {
        worker.sweepPools()
        worker.loop.arm(self, at: now &+ 1_000_000_000)
    }
}
