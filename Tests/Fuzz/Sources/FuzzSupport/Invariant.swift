/// Stops the process when an invariant does not hold, so libFuzzer reports and saves the input.
///
/// `fatalError` traps; libFuzzer's deadly-signal handler writes the input to `crash-<sha1>`.
@inline(__always)
public func invariant(
    _ condition: Bool, _ message: @autoclosure () -> String, file: StaticString = #fileID, line: UInt = #line
) {
    if !condition { fatalError("invariant: \(message())", file: file, line: line) }
}

/// Bytes as a Swift-like string literal (printable ASCII as is, the rest escaped), for messages.
public func escaped(_ bytes: some Sequence<UInt8>) -> String {
    var s = "\""
    for b in bytes {
        switch b {
        case 0x0D: s += "\\r"
        case 0x0A: s += "\\n"
        case 0x09: s += "\\t"
        case 0x22: s += "\\\""
        case 0x5C: s += "\\\\"
        case 0x20..<0x7F: s += String(UnicodeScalar(b))
        default: s += "\\x" + (b < 16 ? "0" : "") + String(b, radix: 16)
        }
    }
    return s + "\""
}

/// A split point in `0...bytes.count` derived from the bytes themselves (FNV-1a), so that a
/// crash found with it reproduces from the saved input alone.
public func splitPoint(_ bytes: UnsafeRawBufferPointer) -> Int {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in bytes {
        h ^= UInt64(b)
        h &*= 0x100_0000_01b3
    }
    return Int(h % UInt64(bytes.count + 1))
}

/// Calls `body` with a copy of `bytes[0..<count]` in a buffer of exactly `count` bytes, so that
/// AddressSanitizer catches any read past the end of a prefix.
public func withExactCopy<R, E: Error>(
    _ bytes: UnsafeRawBufferPointer, count: Int, _ body: (UnsafeRawBufferPointer) throws(E) -> R
) throws(E) -> R {
    precondition(count >= 0 && count <= bytes.count)
    if count == 0 { return try body(UnsafeRawBufferPointer(start: nil, count: 0)) }
    let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: 1)
    defer { copy.deallocate() }
    copy.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[0..<count]))
    return try body(UnsafeRawBufferPointer(copy))
}

/// Calls `body` with `bytes` in a buffer of exactly their size.
public func withExactBuffer<R>(_ bytes: [UInt8], _ body: (UnsafeRawBufferPointer) -> R) -> R {
    bytes.withUnsafeBytes { raw in withExactCopy(raw, count: raw.count, body) }
}
