import Synchronization

/// A stored response body: append-only chunks that one writer (the fill's worker) fills
/// while readers on any worker copy what is already there.
///
/// The chunk table has a fixed capacity (`maxObject` worth of chunks) and never moves, so
/// a reader needs no lock: it loads `available` (acquiring), then reads bytes below it. The
/// writer copies bytes first and publishes the new length after (releasing). Memory is
/// allocated a chunk at a time as bytes arrive and freed with the body.
public final class CacheBody: @unchecked Sendable {
    /// Chunk size of bodies whose length is not known in advance (chunked, close-delimited).
    public static let streamChunk = 16 * 1024
    private let chunkSize: Int
    private let chunks: UnsafeMutablePointer<UnsafeMutableRawPointer?>
    private let capacity: Int
    private var written = 0
    private let published = Atomic<Int>(0)

    /// A body of exactly `length` bytes (one chunk, a Content-Length response), or with
    /// `length` nil one that can hold up to `maxBytes` in 16 KiB chunks.
    public init(length: Int?, maxBytes: Int) {
        if let length {
            chunkSize = max(1, length)
            capacity = 1
        } else {
            chunkSize = Self.streamChunk
            capacity = max(1, (maxBytes + Self.streamChunk - 1) / Self.streamChunk)
        }
        chunks = .allocate(capacity: capacity)
        chunks.initialize(repeating: nil, count: capacity)
    }

    deinit {
        for i in 0..<capacity { chunks[i]?.deallocate() }
        chunks.deinitialize(count: capacity)
        chunks.deallocate()
    }

    /// Bytes readers may copy now. Any thread.
    @inline(__always) public var available: Int { published.load(ordering: .acquiring) }

    /// The most bytes this body can hold.
    public var limit: Int { capacity * chunkSize }

    /// Appends `bytes` (writer only) and publishes them; false when they do not fit (the
    /// response is larger than `max_object`: nothing of it is appended).
    public func append(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard written + bytes.count <= limit else { return false }
        var from = 0
        while from < bytes.count {
            let c = written / chunkSize
            let off = written % chunkSize
            if chunks[c] == nil {
                chunks[c] = .allocate(byteCount: chunkSize, alignment: 16)
            }
            let n = min(chunkSize - off, bytes.count - from)
            (chunks[c]! + off).copyMemory(from: bytes.baseAddress! + from, byteCount: n)
            written += n
            from += n
        }
        published.store(written, ordering: .releasing)
        return true
    }

    /// Calls `body` with the contiguous runs of bytes from `offset` up to `offset + count`
    /// (all below `available`). Any thread.
    @inline(__always)
    public func read(from offset: Int, count: Int, _ body: (UnsafeRawBufferPointer) -> Void) {
        var at = offset
        let end = offset + count
        while at < end {
            let c = at / chunkSize
            let off = at % chunkSize
            let n = min(chunkSize - off, end - at)
            body(UnsafeRawBufferPointer(start: chunks[c]! + off, count: n))
            at += n
        }
    }

    /// Bytes held in memory (whole chunks).
    public var allocatedBytes: Int { (written + chunkSize - 1) / chunkSize * chunkSize }
}
