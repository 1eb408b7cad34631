/// A growable byte buffer with a read and a write index. Owned by one loop thread.
///
/// Bytes live in `[readIndex, writeIndex)`. `compact()` moves them to the front so
/// a fixed capacity can be reused forever without allocating.
///
/// The per-request accessors are `@inlinable` (and the storage they touch `@usableFromInline`)
/// so the proxy inlines them: a `public` member is not inlined across modules otherwise.
public final class ByteBuffer {
    public private(set) var base: UnsafeMutableRawPointer
    public private(set) var capacity: Int
    public var readIndex = 0
    public var writeIndex = 0

    public init(capacity: Int) {
        self.capacity = capacity
        base = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
    }

    deinit { base.deallocate() }

    @inlinable @inline(__always) public var readableCount: Int { writeIndex - readIndex }
    @inlinable @inline(__always) public var writableCount: Int { capacity - writeIndex }
    @inlinable @inline(__always) public var isEmpty: Bool { readIndex == writeIndex }
    @inlinable @inline(__always) public var readPointer: UnsafeMutableRawPointer { base + readIndex }
    @inlinable @inline(__always) public var writePointer: UnsafeMutableRawPointer { base + writeIndex }

    /// The readable bytes as a buffer pointer (valid until the next mutation).
    @inlinable @inline(__always) public var readable: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base + readIndex, count: writeIndex - readIndex)
    }

    @inlinable @inline(__always) public func consume(_ n: Int) {
        readIndex += n
        if readIndex == writeIndex {
            readIndex = 0
            writeIndex = 0
        }
    }

    public func clear() {
        readIndex = 0
        writeIndex = 0
    }

    /// Moves readable bytes to the front.
    public func compact() {
        guard readIndex > 0 else { return }
        let n = readableCount
        if n > 0 { base.copyMemory(from: base + readIndex, byteCount: n) }
        readIndex = 0
        writeIndex = n
    }

    /// Makes room for `n` more bytes, compacting first and growing only if needed.
    public func reserve(_ n: Int) {
        if writableCount >= n { return }
        compact()
        if writableCount >= n { return }
        var newCap = capacity * 2
        while newCap - writeIndex < n { newCap *= 2 }
        let nb = UnsafeMutableRawPointer.allocate(byteCount: newCap, alignment: 16)
        nb.copyMemory(from: base, byteCount: writeIndex)
        base.deallocate()
        base = nb
        capacity = newCap
    }

    @inlinable @inline(__always) public func append(_ p: UnsafeRawPointer, _ n: Int) {
        reserve(n)
        (base + writeIndex).copyMemory(from: p, byteCount: n)
        writeIndex += n
    }

    @inlinable @inline(__always) public func append(_ bytes: UnsafeRawBufferPointer) {
        if let b = bytes.baseAddress, bytes.count > 0 { append(b, bytes.count) }
    }

    @inlinable @inline(__always) public func append(_ byte: UInt8) {
        reserve(1)
        base.storeBytes(of: byte, toByteOffset: writeIndex, as: UInt8.self)
        writeIndex += 1
    }

    /// Appends a static ASCII string without allocating.
    @inlinable @inline(__always) public func append(_ s: StaticString) {
        append(UnsafeRawPointer(s.utf8Start), s.utf8CodeUnitCount)
    }

    /// Appends a String's UTF-8 (may allocate for non-contiguous strings).
    public func append(string s: String) {
        var s = s
        s.withUTF8 { append(UnsafeRawBufferPointer($0)) }
    }

    /// Appends a non-negative integer in decimal.
    public func append(decimal v: Int) {
        reserve(20)
        if v == 0 { append(UInt8(ascii: "0")); return }
        var x = v
        var digits = 0
        var t = v
        while t > 0 { digits += 1; t /= 10 }
        var i = writeIndex + digits - 1
        while x > 0 {
            base.storeBytes(of: UInt8(48 + x % 10), toByteOffset: i, as: UInt8.self)
            x /= 10
            i -= 1
        }
        writeIndex += digits
    }

    /// Appends a non-negative integer in lowercase hex.
    public func append(hex v: Int) {
        reserve(16)
        if v == 0 { append(UInt8(ascii: "0")); return }
        var digits = 0
        var t = v
        while t > 0 { digits += 1; t >>= 4 }
        var x = v
        var i = writeIndex + digits - 1
        while x > 0 {
            let d = x & 15
            base.storeBytes(of: UInt8(d < 10 ? 48 + d : 87 + d), toByteOffset: i, as: UInt8.self)
            x >>= 4
            i -= 1
        }
        writeIndex += digits
    }
}
