import SluiceBuffers

/// A worker's free list of I/O buffers, so idle connections hold none.
///
/// Loop thread only. Buffers that grew past the standard size are dropped, not kept.
final class BufferPool {
    static let standardSize = 16 * 1024
    private var free: [ByteBuffer] = []
    private let keep: Int

    init(keep: Int = 256) {
        self.keep = keep
        free.reserveCapacity(keep)
    }

    @inline(__always)
    func acquire() -> ByteBuffer {
        if let b = free.popLast() { return b }
        return ByteBuffer(capacity: Self.standardSize)
    }

    @inline(__always)
    func release(_ b: ByteBuffer) {
        b.clear()
        if b.capacity == Self.standardSize && free.count < keep { free.append(b) }
    }
}
