/// Request methods Sluice treats specially; everything else is `.other`.
public enum Method: UInt8, Sendable {
    case get, head, post, put, delete, options, trace, patch, connect, other

    /// RFC 9110 §9.2.2: safe to resend after it may have reached a backend.
    public var isIdempotent: Bool {
        switch self {
        case .get, .head, .options, .put, .delete, .trace: return true
        default: return false
        }
    }
}

/// Limits the request parser enforces.
public struct RequestLimits: Sendable {
    /// Request line + fields; past it 431.
    public var maxHead: Int
    /// Request line alone; past it 414.
    public var maxRequestLine: Int
    /// Header fields in one head (`limits.max_request_headers`); past it 431.
    public var maxFields: Int

    public init(maxHead: Int = 32 * 1024, maxRequestLine: Int = 8 * 1024, maxFields: Int = 256) {
        self.maxHead = maxHead
        self.maxRequestLine = min(maxRequestLine, maxHead)
        self.maxFields = maxFields
    }
}

/// A parsed request head: offsets into the bytes it was parsed from, plus what they mean.
///
/// Reused from request to request: `fields` keeps its capacity, so steady state allocates nothing.
public struct RequestHead: Sendable {
    public var method: Method = .other
    public var methodEnd = 0
    /// The request-target as received.
    public var targetStart = 0
    public var targetEnd = 0
    /// The part to forward in origin-form (path and query).
    public var pathStart = 0
    public var pathEnd = 0
    /// In absolute-form: the URI's authority, which replaces Host.
    public var authorityStart = 0
    public var authorityEnd = 0
    public var isHTTP11 = true
    public var fields: [HeaderField] = []
    /// Index in `fields` of the Host field, or -1.
    public var hostIndex = -1
    public var framing: BodyFraming = .none
    /// The client wants the connection kept open after this exchange.
    public var keepAlive = true
    /// Upgrade requested (`Upgrade` field and `Connection: upgrade`); index of the Upgrade field.
    public var upgradeIndex = -1
    /// `Connection` names fields besides close/keep-alive/upgrade: those are removed too.
    public var connectionNamesFields = false
    public var length = 0

    public init() {
        fields.reserveCapacity(32)
    }

    public var isAbsoluteForm: Bool { authorityEnd > authorityStart }

    mutating func reset() {
        method = .other
        hostIndex = -1
        framing = .none
        keepAlive = true
        upgradeIndex = -1
        connectionNamesFields = false
        authorityStart = 0
        authorityEnd = 0
        fields.removeAll(keepingCapacity: true)
    }

    /// Parses a request head from the start of `bytes` (RFC 9112 §3, §5, §6).
    ///
    /// Pure and allocation-free once `fields` has grown. Leading empty lines are skipped
    /// (RFC 9112 §2.2); their bytes count in `length`.
    public mutating func parse(_ bytes: UnsafeRawBufferPointer, limits: RequestLimits) -> HeadParseResult {
        guard let p = bytes.baseAddress, bytes.count > 0 else { return .incomplete }
        do throws(HTTPParseError) {
            reset()
            return try parseThrowing(p, bytes.count, limits)
        } catch {
            return .invalid(error)
        }
    }

    private mutating func parseThrowing(_ p: UnsafeRawPointer, _ count: Int, _ limits: RequestLimits) throws(HTTPParseError)
        -> HeadParseResult
    {
        var start = 0
        var skipped = 0
        while start + 1 < count, p.load(fromByteOffset: start, as: UInt8.self) == 0x0D,
            p.load(fromByteOffset: start + 1, as: UInt8.self) == 0x0A
        {
            start += 2
            skipped += 1
            if skipped > 4 { throw HTTPParseError(400, "empty lines before the request") }
        }
        let scanEnd = min(count, start + limits.maxHead)
        // The line may hold maxRequestLine bytes before its CRLF: too long only once that window
        // is all here without an LF (earlier, the LF may be in the next read).
        let lineWindow = min(limits.maxRequestLine + 2, limits.maxHead)
        guard let lineCR = try FieldParser.lineEnd(p, from: start, to: min(scanEnd, start + lineWindow)) else {
            if count - start >= lineWindow { throw HTTPParseError(414, "request line too long") }
            return .incomplete
        }
        try parseRequestLine(p, start, lineCR)
        guard let end = try FieldParser.parse(p, start: lineCR + 2, end: scanEnd, fields: &fields, maxFields: limits.maxFields)
        else {
            if count - start >= limits.maxHead { throw HTTPParseError(431, "request head too large") }
            return .incomplete
        }
        length = end
        try interpretFields(p)
        return .complete(length: end)
    }

    private mutating func parseRequestLine(_ p: UnsafeRawPointer, _ start: Int, _ cr: Int) throws(HTTPParseError) {
        var i = start
        while i < cr, ByteClass.isTChar(p.load(fromByteOffset: i, as: UInt8.self)) { i += 1 }
        guard i > start, i < cr, p.load(fromByteOffset: i, as: UInt8.self) == 0x20 else {
            throw HTTPParseError(400, "malformed request line")
        }
        method = Self.method(p + start, i - start)
        methodEnd = i
        i += 1
        targetStart = i
        while i < cr {
            let c = p.load(fromByteOffset: i, as: UInt8.self)
            if c == 0x20 { break }
            if c == UInt8(ascii: "#") { throw HTTPParseError(400, "fragment in the request target") }
            if !ByteClass.isTargetByte(c) { throw HTTPParseError(400, "invalid byte in the request target") }
            i += 1
        }
        targetEnd = i
        guard targetEnd > targetStart, i < cr else { throw HTTPParseError(400, "malformed request line") }
        i += 1
        // Exactly "HTTP/1.x": the version is case-sensitive; HTTP/0.9 has none and is refused.
        guard cr - i == 8, p.loadUnaligned(fromByteOffset: i, as: UInt32.self) == 0x5054_5448,  // "HTTP"
            p.load(fromByteOffset: i + 4, as: UInt8.self) == UInt8(ascii: "/"),
            p.load(fromByteOffset: i + 6, as: UInt8.self) == UInt8(ascii: ".")
        else { throw HTTPParseError(400, "malformed HTTP version") }
        let major = p.load(fromByteOffset: i + 5, as: UInt8.self)
        let minor = p.load(fromByteOffset: i + 7, as: UInt8.self)
        guard major >= 48 && major <= 57 && minor >= 48 && minor <= 57 else { throw HTTPParseError(400, "malformed HTTP version") }
        guard major == UInt8(ascii: "1") else { throw HTTPParseError(505, "HTTP version not supported") }
        isHTTP11 = minor != UInt8(ascii: "0")
        keepAlive = isHTTP11
        try parseTarget(p)
    }

    private mutating func parseTarget(_ p: UnsafeRawPointer) throws(HTTPParseError) {
        let first = p.load(fromByteOffset: targetStart, as: UInt8.self)
        if method == .connect { throw HTTPParseError(405, "CONNECT is not supported") }
        if first == UInt8(ascii: "/") {
            pathStart = targetStart
            pathEnd = targetEnd
            return
        }
        if first == UInt8(ascii: "*") && targetEnd - targetStart == 1 {
            guard method == .options else { throw HTTPParseError(400, "asterisk-form is only for OPTIONS") }
            pathStart = targetStart
            pathEnd = targetEnd
            return
        }
        // absolute-form: http://authority/path or https://...
        var i = targetStart
        if targetEnd - i > 7, equalsLowercase(p + i, 7, "http://") {
            i += 7
        } else if targetEnd - i > 8, equalsLowercase(p + i, 8, "https://") {
            i += 8
        } else {
            throw HTTPParseError(400, "malformed request target")
        }
        let a = i
        while i < targetEnd {
            let c = p.load(fromByteOffset: i, as: UInt8.self)
            if c == UInt8(ascii: "/") || c == UInt8(ascii: "?") { break }
            if c == UInt8(ascii: "@") { throw HTTPParseError(400, "userinfo in the request target") }
            i += 1
        }
        guard Self.isValidHost(p, a, i) else { throw HTTPParseError(400, "malformed authority in the request target") }
        authorityStart = a
        authorityEnd = i
        pathStart = i
        pathEnd = targetEnd
    }

    private mutating func interpretFields(_ p: UnsafeRawPointer) throws(HTTPParseError) {
        var contentLength: Int? = nil
        var sawTE = false
        var chunkedLast = false
        var connectionUpgrade = false
        var upgradeField = -1
        var sawClose = false
        var sawKeepAlive = false
        for (index, f) in fields.enumerated() {
            let vs = Int(f.valueStart)
            let ve = Int(f.valueEnd)
            switch f.kind {
            case .host:
                if hostIndex >= 0 { throw HTTPParseError(400, "more than one Host") }
                guard Self.isValidHost(p, vs, ve) else { throw HTTPParseError(400, "malformed Host") }
                hostIndex = index
            case .contentLength:
                contentLength = try FieldParser.contentLength(p, vs, ve, current: contentLength)
            case .transferEncoding:
                sawTE = true
                try FieldParser.forEachListElement(p, vs, ve) { (s, e) throws(HTTPParseError) in
                    if chunkedLast { throw HTTPParseError(400, "chunked is not the last transfer coding") }
                    for k in s..<e where !ByteClass.isTChar(p.load(fromByteOffset: k, as: UInt8.self)) {
                        throw HTTPParseError(400, "malformed Transfer-Encoding")
                    }
                    chunkedLast = equalsLowercase(p + s, e - s, "chunked")
                }
            case .connection:
                try FieldParser.forEachListElement(p, vs, ve) { (s, e) throws(HTTPParseError) in
                    if equalsLowercase(p + s, e - s, "close") {
                        sawClose = true
                    } else if equalsLowercase(p + s, e - s, "keep-alive") {
                        sawKeepAlive = true
                    } else if equalsLowercase(p + s, e - s, "upgrade") {
                        connectionUpgrade = true
                    } else {
                        connectionNamesFields = true
                    }
                }
            case .upgrade:
                upgradeField = index
            default:
                break
            }
        }
        keepAlive = !sawClose && (isHTTP11 || sawKeepAlive)
        // RFC 9112 §3.2: an HTTP/1.1 request needs exactly one Host, absolute-form included.
        if isHTTP11 && hostIndex < 0 { throw HTTPParseError(400, "missing Host") }
        if sawTE {
            if contentLength != nil { throw HTTPParseError(400, "both Content-Length and Transfer-Encoding") }
            if !isHTTP11 { throw HTTPParseError(400, "Transfer-Encoding in an HTTP/1.0 request") }
            if !chunkedLast { throw HTTPParseError(400, "chunked is not the last transfer coding") }
            framing = .chunked
        } else if let n = contentLength {
            framing = n > 0 ? .contentLength(n) : .none
        }
        if connectionUpgrade && upgradeField >= 0 { upgradeIndex = upgradeField }
    }

    /// uri-host [ ":" port ], reg-name or IPv4 or IP-literal (RFC 3986 §3.2.2).
    static func isValidHost(_ p: UnsafeRawPointer, _ start: Int, _ end: Int) -> Bool {
        guard end > start else { return false }
        var i = start
        if p.load(fromByteOffset: i, as: UInt8.self) == UInt8(ascii: "[") {
            i += 1
            while i < end {
                let c = p.load(fromByteOffset: i, as: UInt8.self)
                if c == UInt8(ascii: "]") { break }
                guard ByteClass.hexValue(c) != nil || c == UInt8(ascii: ":") || c == UInt8(ascii: ".") else { return false }
                i += 1
            }
            guard i < end, i > start + 1 else { return false }
            i += 1
        } else {
            while i < end {
                let c = p.load(fromByteOffset: i, as: UInt8.self)
                if c == UInt8(ascii: ":") { break }
                guard ByteClass.isHostByte(c) else { return false }
                i += 1
            }
            guard i > start else { return false }
        }
        if i == end { return true }
        guard p.load(fromByteOffset: i, as: UInt8.self) == UInt8(ascii: ":") else { return false }
        i += 1
        guard end - i <= 5 else { return false }
        while i < end {
            let c = p.load(fromByteOffset: i, as: UInt8.self)
            guard c >= 48 && c <= 57 else { return false }
            i += 1
        }
        return true
    }

    static func method(_ p: UnsafeRawPointer, _ n: Int) -> Method {
        // Methods are case-sensitive (RFC 9110 §9.1).
        func eq(_ s: StaticString) -> Bool {
            n == s.utf8CodeUnitCount && memcmpEqual(p, UnsafeRawPointer(s.utf8Start), n)
        }
        switch n {
        case 3: return eq("GET") ? .get : eq("PUT") ? .put : .other
        case 4: return eq("HEAD") ? .head : eq("POST") ? .post : .other
        case 5: return eq("TRACE") ? .trace : eq("PATCH") ? .patch : .other
        case 6: return eq("DELETE") ? .delete : .other
        case 7: return eq("OPTIONS") ? .options : eq("CONNECT") ? .connect : .other
        default: return .other
        }
    }

    /// Does the `Connection` field list name the field at `index`? (Those are hop-by-hop too.)
    public func connectionNames(_ p: UnsafeRawPointer, field index: Int) -> Bool {
        FieldParser.connectionLists(fields, index, p)
    }
}

@inline(__always)
func memcmpEqual(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ n: Int) -> Bool {
    for i in 0..<n where a.load(fromByteOffset: i, as: UInt8.self) != b.load(fromByteOffset: i, as: UInt8.self) {
        return false
    }
    return true
}

@inline(__always)
func caseInsensitiveEqual(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ n: Int) -> Bool {
    for i in 0..<n
    where ByteClass.lower(a.load(fromByteOffset: i, as: UInt8.self)) != ByteClass.lower(b.load(fromByteOffset: i, as: UInt8.self)) {
        return false
    }
    return true
}
