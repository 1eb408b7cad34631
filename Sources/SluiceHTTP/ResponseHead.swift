/// A parsed response head from a backend: offsets into its bytes plus what they mean.
public struct ResponseHead: Sendable {
    public var status = 0
    public var isHTTP11 = true
    /// The reason phrase (may be empty).
    public var reasonStart = 0
    public var reasonEnd = 0
    public var fields: [HeaderField] = []
    public var contentLength: Int? = nil
    public var chunked = false
    /// The backend asked to close the connection after this response.
    public var close = false
    public var connectionNamesFields = false
    public var length = 0

    public init() {
        fields.reserveCapacity(32)
    }

    /// Parses a status line and fields (RFC 9112 §4, §5), as strictly as requests.
    public mutating func parse(_ bytes: UnsafeRawBufferPointer, maxHead: Int) -> HeadParseResult {
        guard let p = bytes.baseAddress, bytes.count > 0 else { return .incomplete }
        fields.removeAll(keepingCapacity: true)
        contentLength = nil
        chunked = false
        close = false
        connectionNamesFields = false
        do throws(HTTPParseError) {
            let scanEnd = min(bytes.count, maxHead)
            guard let cr = try FieldParser.lineEnd(p, from: 0, to: scanEnd) else {
                if bytes.count >= maxHead { throw HTTPParseError(502, "response head too large") }
                return .incomplete
            }
            try parseStatusLine(p, cr)
            guard let end = try FieldParser.parse(p, start: cr + 2, end: scanEnd, fields: &fields) else {
                if bytes.count >= maxHead { throw HTTPParseError(502, "response head too large") }
                return .incomplete
            }
            length = end
            try interpretFields(p)
            return .complete(length: end)
        } catch {
            return .invalid(HTTPParseError(502, error.reason))
        }
    }

    private mutating func parseStatusLine(_ p: UnsafeRawPointer, _ cr: Int) throws(HTTPParseError) {
        // "HTTP/1.x SP 3DIGIT [SP reason]"
        guard cr >= 12, p.loadUnaligned(fromByteOffset: 0, as: UInt32.self) == 0x5054_5448,
            p.load(fromByteOffset: 4, as: UInt8.self) == UInt8(ascii: "/"),
            p.load(fromByteOffset: 5, as: UInt8.self) == UInt8(ascii: "1"),
            p.load(fromByteOffset: 6, as: UInt8.self) == UInt8(ascii: "."),
            p.load(fromByteOffset: 8, as: UInt8.self) == 0x20
        else { throw HTTPParseError(502, "invalid status line") }
        let minor = p.load(fromByteOffset: 7, as: UInt8.self)
        guard minor >= 48 && minor <= 57 else { throw HTTPParseError(502, "invalid status line") }
        isHTTP11 = minor != 48
        var s = 0
        for k in 9..<12 {
            let c = p.load(fromByteOffset: k, as: UInt8.self)
            guard c >= 48 && c <= 57 else { throw HTTPParseError(502, "invalid status code") }
            s = s * 10 + Int(c - 48)
        }
        guard s >= 100 && s <= 599 else { throw HTTPParseError(502, "invalid status code") }
        status = s
        if cr == 12 {
            reasonStart = 12
            reasonEnd = 12
            return
        }
        guard p.load(fromByteOffset: 12, as: UInt8.self) == 0x20 else { throw HTTPParseError(502, "invalid status line") }
        for k in 13..<cr where !ByteClass.isFieldValueByte(p.load(fromByteOffset: k, as: UInt8.self)) {
            throw HTTPParseError(502, "control byte in the reason phrase")
        }
        reasonStart = 13
        reasonEnd = cr
    }

    private mutating func interpretFields(_ p: UnsafeRawPointer) throws(HTTPParseError) {
        var sawTE = false
        var chunkedLast = false
        var sawKeepAlive = false
        for f in fields {
            let vs = Int(f.valueStart)
            let ve = Int(f.valueEnd)
            switch f.kind {
            case .contentLength:
                contentLength = try FieldParser.contentLength(p, vs, ve, current: contentLength)
            case .transferEncoding:
                sawTE = true
                try FieldParser.forEachListElement(p, vs, ve) { (s, e) throws(HTTPParseError) in
                    if chunkedLast { throw HTTPParseError(502, "chunked is not the last transfer coding") }
                    chunkedLast = equalsLowercase(p + s, e - s, "chunked")
                }
            case .connection:
                try FieldParser.forEachListElement(p, vs, ve) { (s, e) throws(HTTPParseError) in
                    if equalsLowercase(p + s, e - s, "close") {
                        close = true
                    } else if equalsLowercase(p + s, e - s, "keep-alive") {
                        sawKeepAlive = true
                    } else if !equalsLowercase(p + s, e - s, "upgrade") {
                        connectionNamesFields = true
                    }
                }
            default:
                break
            }
        }
        if !isHTTP11 && !sawKeepAlive { close = true }
        if sawTE {
            if contentLength != nil { throw HTTPParseError(502, "both Content-Length and Transfer-Encoding") }
            // Sluice refuses other codings rather than forward a body it cannot re-frame.
            if !chunkedLast { throw HTTPParseError(502, "unsupported Transfer-Encoding") }
            chunked = true
        }
    }

    /// How the body of this response is delimited, given the request it answers (RFC 9112 §6.3).
    public func framing(requestMethod: Method) -> BodyFraming {
        if requestMethod == .head || status < 200 || status == 204 || status == 304 { return .none }
        if chunked { return .chunked }
        if let n = contentLength { return n == 0 ? .none : .contentLength(n) }
        return .untilClose
    }

    /// Does the `Connection` field list name the field at `index`? (Those are hop-by-hop too.)
    public func connectionNames(_ p: UnsafeRawPointer, field index: Int) -> Bool {
        FieldParser.connectionLists(fields, index, p)
    }
}
