import FuzzSupport
import SluiceHTTP

/// What decoding one input gave: the data, the bytes consumed, and how it ended.
/// After an error, `consumed` is 0: a throwing decode does not say how far it read.
struct Outcome: Equatable {
    var data: [UInt8] = []
    var consumed = 0
    var done = false
    var error: HTTPParseError? = nil
}

/// The decoder that decodes every input after the previous one, reset in between.
nonisolated(unsafe) private var reused = ChunkedDecoder(errorStatus: 502)

/// Decodes the input as a chunked body, at once, split at a point and byte by byte, and checks
/// the three agree; a reset decoder agrees too; a body that ends re-encodes to the same data.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzChunkedDecoder(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    var fresh = ChunkedDecoder(errorStatus: 502)
    let whole = decode(&fresh, input, pieces: [size])
    check(whole, size)
    let split = splitPoint(input)
    var second = ChunkedDecoder(errorStatus: 502)
    let halves = decode(&second, input, pieces: [split, size - split])
    invariant(halves == whole, "split at \(split): \(halves), at once: \(whole)")
    var third = ChunkedDecoder(errorStatus: 502)
    let bytewise = decode(&third, input, pieces: Array(repeating: 1, count: size))
    invariant(bytewise == whole, "byte by byte: \(bytewise), at once: \(whole)")
    reused.reset()
    let afterReset = decode(&reused, input, pieces: [size])
    invariant(afterReset == whole, "after reset: \(afterReset), fresh: \(whole)")
    if whole.done { checkReencoded(whole.data, chunk: 1 + split % 7) }
    return 0
}

/// Feeds `input` in pieces of the given sizes, each in a buffer of its exact size, as reads would.
/// Stops at the first error or at the end of the body.
private func decode(_ d: inout ChunkedDecoder, _ input: UnsafeRawBufferPointer, pieces: [Int]) -> Outcome {
    var o = Outcome()
    var offset = 0
    for n in pieces where !o.done && o.error == nil {
        let piece = UnsafeRawBufferPointer(rebasing: input[offset..<(offset + n)])
        do throws(HTTPParseError) {
            let used = try withExactCopy(piece, count: n) { raw throws(HTTPParseError) in
                try d.decode(raw) { o.data += $0 }
            }
            invariant(used >= 0 && used <= n, "consumed \(used) of a piece of \(n)")
            o.consumed += used
            if d.isDone {
                o.done = true
            } else {
                invariant(used == n, "stopped after \(used) of \(n) bytes before the end")
            }
        } catch {
            o.error = error
            o.consumed = 0
        }
        offset += n
    }
    return o
}

/// What any single decode must satisfy.
private func check(_ o: Outcome, _ size: Int) {
    invariant(o.consumed <= size, "consumed \(o.consumed) of \(size)")
    if let e = o.error {
        invariant(e.status == 502, "error status \(e.status), not the decoder's 502")
        invariant(o.data.count < size, "\(o.data.count) data bytes from \(size) before an error")
    } else {
        invariant(o.data.count <= o.consumed, "\(o.data.count) data bytes from \(o.consumed) consumed")
    }
    if o.done { invariant(o.consumed >= 5 && o.error == nil, "done after \(o.consumed) bytes") }
}

/// The decoded data, re-encoded in chunks of `chunk` bytes, decodes to the same data.
private func checkReencoded(_ data: [UInt8], chunk: Int) {
    var body: [UInt8] = []
    var i = 0
    while i < data.count {
        let n = min(chunk, data.count - i)
        body += Array(String(n, radix: 16).utf8) + [0x0D, 0x0A] + data[i..<(i + n)] + [0x0D, 0x0A]
        i += n
    }
    body += Array("0\r\n\r\n".utf8)
    var d = ChunkedDecoder()
    let o = withExactBuffer(body) { decode(&d, $0, pieces: [body.count]) }
    invariant(o == Outcome(data: data, consumed: body.count, done: true), "re-encoded \(escaped(body)) gives \(o)")
}
