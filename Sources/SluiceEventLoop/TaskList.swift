import Glibc

/// The closures queued for a loop by other threads, behind a pthread mutex.
///
/// Not `Synchronization.Mutex`: on Linux that is a futex ThreadSanitizer does not model, so it
/// reported the list's appends and swaps as races. Any thread.
final class TaskList: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var tasks: [() -> Void] = []

    init() {
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    func withLock<R>(_ body: (inout [() -> Void]) -> R) -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return body(&tasks)
    }
}
