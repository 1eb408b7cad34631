/// What Sluice needs to know about a field by its name.
public enum FieldKind: UInt8, Sendable {
    case other
    case host
    case contentLength
    case transferEncoding
    case connection
    case keepAlive
    case proxyConnection
    case te
    case upgrade
    case expect
    case xForwardedFor
    case xForwardedProto
    case xRequestId
    case trailer

    /// Classifies a field name (case-insensitive).
    @inline(__always)
    static func classify(_ p: UnsafeRawPointer, _ n: Int) -> FieldKind {
        switch n {
        case 2: return equalsLowercase(p, n, "te") ? .te : .other
        case 4: return equalsLowercase(p, n, "host") ? .host : .other
        case 6: return equalsLowercase(p, n, "expect") ? .expect : .other
        case 7:
            if equalsLowercase(p, n, "upgrade") { return .upgrade }
            return equalsLowercase(p, n, "trailer") ? .trailer : .other
        case 10:
            if equalsLowercase(p, n, "connection") { return .connection }
            return equalsLowercase(p, n, "keep-alive") ? .keepAlive : .other
        case 12: return equalsLowercase(p, n, "x-request-id") ? .xRequestId : .other
        case 14: return equalsLowercase(p, n, "content-length") ? .contentLength : .other
        case 15: return equalsLowercase(p, n, "x-forwarded-for") ? .xForwardedFor : .other
        case 16: return equalsLowercase(p, n, "proxy-connection") ? .proxyConnection : .other
        case 17:
            if equalsLowercase(p, n, "transfer-encoding") { return .transferEncoding }
            return equalsLowercase(p, n, "x-forwarded-proto") ? .xForwardedProto : .other
        default: return .other
        }
    }
}

/// One header field as offsets into the head's bytes (no copies).
public struct HeaderField: Sendable {
    public var nameStart: Int32
    public var nameEnd: Int32
    public var valueStart: Int32
    public var valueEnd: Int32
    public var kind: FieldKind
}

/// How a message body is delimited (RFC 9112 §6).
public enum BodyFraming: Sendable, Equatable {
    case none
    case contentLength(Int)
    case chunked
    /// Response only: the body runs until the backend closes.
    case untilClose
}

/// A protocol error with the status to answer and a short reason for logs and the body.
public struct HTTPParseError: Error, Sendable, Equatable {
    public let status: Int
    public let reason: StaticString

    public init(_ status: Int, _ reason: StaticString) {
        self.status = status
        self.reason = reason
    }

    public static func == (a: HTTPParseError, b: HTTPParseError) -> Bool {
        a.status == b.status && a.reason.description == b.reason.description
    }
}

/// The result of trying to parse a head from the bytes received so far.
public enum HeadParseResult: Sendable, Equatable {
    /// The head is not complete yet; read more.
    case incomplete
    /// The head is complete and is `length` bytes long (through the empty line).
    case complete(length: Int)
    case invalid(HTTPParseError)
}
