/// Incremental decoder of the chunked transfer coding (RFC 9112 §7.1), strict.
///
/// Feed it bytes as they arrive; it hands out the data parts and reports the end.
/// Chunk extensions are checked and dropped; trailer fields are checked and dropped.
/// Errors: a size that is not hex or over `maxChunkSize` (leading zeros are fine: the value
/// is limited, not the digits), a missing CRLF after data, bare CR or LF, control bytes,
/// over-long lines.
public struct ChunkedDecoder: Sendable {
    enum State: Sendable {
        case size
        case extensions
        case sizeLF
        case data
        case dataCR
        case dataLF
        case trailerLineStart
        case trailerLine
        case trailerLF
        case finalLF
        case done
    }

    /// The largest chunk accepted: 2^60 - 1 bytes (15 hex digits of value), far past any body
    /// limit, and small enough that the size never overflows while it is read.
    public static let maxChunkSize = (1 << 60) - 1

    var state: State = .size
    var size = 0
    var digits = 0
    /// Bytes left in the current chunk's data.
    private(set) var remaining = 0
    var lineLength = 0
    var trailerBytes = 0
    var errorStatus: Int

    /// `errorStatus` is what a framing error answers: 400 for requests, 502 for responses.
    public init(errorStatus: Int = 400) {
        self.errorStatus = errorStatus
    }

    public var isDone: Bool { if case .done = state { return true } else { return false } }

    public mutating func reset() {
        state = .size
        size = 0
        digits = 0
        remaining = 0
        lineLength = 0
        trailerBytes = 0
    }

    /// Decodes from `input`, calling `data` with each piece of body data in order.
    ///
    /// Returns the bytes consumed; stops early once the message is done (what follows
    /// belongs to the next message). Throws on a framing error.
    @inline(__always)
    public mutating func decode(
        _ input: UnsafeRawBufferPointer, data: (UnsafeRawBufferPointer) -> Void
    ) throws(HTTPParseError) -> Int {
        guard let p = input.baseAddress else { return 0 }
        let n = input.count
        var i = 0
        while i < n {
            switch state {
            case .data:
                let take = min(remaining, n - i)
                data(UnsafeRawBufferPointer(start: p + i, count: take))
                remaining -= take
                i += take
                if remaining == 0 { state = .dataCR }
                continue
            case .done:
                return i
            default:
                break
            }
            let c = p.load(fromByteOffset: i, as: UInt8.self)
            i += 1
            try step(c)
            if case .done = state { return i }
        }
        return i
    }

    @inline(__always)
    private mutating func fail(_ reason: StaticString) -> HTTPParseError {
        HTTPParseError(errorStatus, reason)
    }

    private mutating func step(_ c: UInt8) throws(HTTPParseError) {
        switch state {
        case .size:
            if let v = ByteClass.hexValue(c) {
                digits += 1
                // Checked before the shift, so `size` never overflows: at most maxChunkSize after it.
                if size > Self.maxChunkSize >> 4 { throw fail("chunk size too large") }
                if digits > 4096 { throw fail("chunk size line too long") }
                size = size << 4 | v
            } else if digits == 0 {
                throw fail("invalid chunk size")
            } else if c == 0x0D {
                state = .sizeLF
            } else if c == UInt8(ascii: ";") || c == 0x20 || c == 0x09 {
                state = .extensions
                lineLength = 0
            } else {
                throw fail("invalid chunk size")
            }
        case .extensions:
            lineLength += 1
            if lineLength > 4096 { throw fail("chunk extension too long") }
            if c == 0x0D {
                state = .sizeLF
            } else if !ByteClass.isFieldValueByte(c) {
                throw fail("control byte in a chunk extension")
            }
        case .sizeLF:
            guard c == 0x0A else { throw fail("bare CR in chunk framing") }
            if size == 0 {
                state = .trailerLineStart
                trailerBytes = 0
            } else {
                remaining = size
                state = .data
            }
            size = 0
            digits = 0
        case .dataCR:
            guard c == 0x0D else { throw fail("chunk data not followed by CRLF") }
            state = .dataLF
        case .dataLF:
            guard c == 0x0A else { throw fail("chunk data not followed by CRLF") }
            state = .size
        case .trailerLineStart:
            if c == 0x0D {
                state = .finalLF
            } else if c == 0x20 || c == 0x09 || !ByteClass.isTChar(c) {
                throw fail("malformed trailer field")
            } else {
                state = .trailerLine
                try countTrailer()
            }
        case .trailerLine:
            try countTrailer()
            if c == 0x0D {
                state = .trailerLF
            } else if !ByteClass.isFieldValueByte(c) {
                throw fail("control byte in a trailer field")
            }
        case .trailerLF:
            guard c == 0x0A else { throw fail("bare CR in trailer") }
            state = .trailerLineStart
        case .finalLF:
            guard c == 0x0A else { throw fail("bare CR after last chunk") }
            state = .done
        case .data, .done:
            break
        }
    }

    private mutating func countTrailer() throws(HTTPParseError) {
        trailerBytes += 1
        if trailerBytes > 16 * 1024 { throw fail("trailer section too large") }
    }
}
