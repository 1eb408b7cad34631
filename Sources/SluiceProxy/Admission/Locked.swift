import Foundation

/// A value behind a pthread mutex (`NSLock`), for the admission state the workers share.
///
/// Not `Synchronization.Mutex`: on Linux that is a futex ThreadSanitizer does not model, so
/// every access it protects was reported as a race and the sanitizer run could not tell a
/// real one from it. Any thread; held only for the few operations of a full cluster.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    @inline(__always)
    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
