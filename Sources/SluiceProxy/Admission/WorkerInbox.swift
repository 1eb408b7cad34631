import SluiceCache
import SluiceEventLoop
import Synchronization

/// What one worker tells another about a waiter the other holds (DESIGN §3: a free slot
/// anywhere serves the best waiter, whichever worker holds it).
enum AdmissionMessage: Sendable {
    /// A slot freed for this waiter: pick a backend now (if it left, wake the next of `admission`).
    case wake(ticket: UInt64, admission: ClusterAdmission)
    /// The queue shed this waiter: answer 503.
    case shed(ticket: UInt64, reason: ShedReason)
    /// A cache fill this worker's connections wait on moved (`Worker+Cache`).
    case cacheNotice(CacheEntry)
}

/// A worker's mailbox for `AdmissionMessage`s from the other workers: a short locked append,
/// and one wake-up of the owner's loop per batch (the first message after the owner emptied
/// it). Any thread posts; the owner's loop thread drains. Used only while a cluster is full.
final class WorkerInbox: Sendable {
    private let messages = Locked<[AdmissionMessage]>([])
    private let loop: EventLoop
    /// Runs on the owner's loop when messages arrived (set once, before the loops start).
    private let deliver: @Sendable () -> Void

    init(loop: EventLoop, deliver: @escaping @Sendable () -> Void) {
        self.loop = loop
        self.deliver = deliver
    }

    /// Leaves `m` for the owner. Any thread.
    func post(_ m: AdmissionMessage) {
        let first = messages.withLock { q -> Bool in
            q.append(m)
            return q.count == 1
        }
        if first { loop.execute(deliver) }
    }

    /// Moves what arrived into `into` (emptied first), keeping both buffers' capacity. Owner's loop.
    func take(into out: inout [AdmissionMessage]) {
        out.removeAll(keepingCapacity: true)
        messages.withLock { q in
            swap(&q, &out)
        }
    }
}
