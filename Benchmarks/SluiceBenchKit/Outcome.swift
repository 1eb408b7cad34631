/// What one request of a bench case ended as, from the client's side.
///
/// The issue-8 cases ask what the rejected got: a clean 503 or 429 with `Retry-After` (the
/// client knows when to come back), the same without it, some other status, a timeout, or a
/// broken connection. Pure value; any thread.
public enum Outcome: Int, CaseIterable, Sendable, Codable {
    case success
    case r503RetryAfter
    case r429RetryAfter
    case r503Bare
    case r429Bare
    case otherStatus
    /// Sent, and no complete answer within the timeout.
    case timeout
    /// Never sent: every connection of its client was busy (waiting on the balancer) for the
    /// whole timeout. The balancer held earlier requests too long for the clients it has.
    case notSent
    case connectionError

    /// Column name in tables and CSV.
    public var label: String {
        switch self {
        case .success: "2xx"
        case .r503RetryAfter: "503+RA"
        case .r429RetryAfter: "429+RA"
        case .r503Bare: "503"
        case .r429Bare: "429"
        case .otherStatus: "other"
        case .timeout: "timeout"
        case .notSent: "not-sent"
        case .connectionError: "conn-error"
        }
    }

    /// An answered request: 2xx is a success; 503 and 429 split by whether `Retry-After` came
    /// with them; anything else (1xx-less 3xx/4xx/5xx, 502, 504) is `otherStatus`.
    public static func classify(status: Int, retryAfter: Int?) -> Outcome {
        switch status {
        case 200..<300: .success
        case 503: retryAfter == nil ? .r503Bare : .r503RetryAfter
        case 429: retryAfter == nil ? .r429Bare : .r429RetryAfter
        default: .otherStatus
        }
    }

    /// A rejection the client can act on: 503/429 with a `Retry-After`.
    public var isCleanRejection: Bool { self == .r503RetryAfter || self == .r429RetryAfter }
}

/// `Retry-After` parsing for the load client (RFC 9110 §10.2.3). Pure; any thread.
public enum RetryAfter {
    /// Delay-seconds as a non-negative integer; nil for an HTTP-date or anything malformed
    /// (the bench's targets send seconds; a date would be counted as "without").
    public static func seconds<C: Collection<UInt8>>(_ value: C) -> Int? {
        var n = 0
        var digits = 0
        var trailingSpace = false
        for c in value {
            if c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") {
                if digits > 0 { trailingSpace = true }
                continue
            }
            guard !trailingSpace, c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9"), digits < 9 else { return nil }
            n = n * 10 + Int(c - UInt8(ascii: "0"))
            digits += 1
        }
        return digits == 0 ? nil : n
    }

    /// True when `name` is `Retry-After` in any letter case.
    public static func isName<C: Collection<UInt8>>(_ name: C) -> Bool {
        let want = Array("retry-after".utf8)
        guard name.count == want.count else { return false }
        for (c, w) in zip(name, want) where c | 0x20 != w {
            return false
        }
        return true
    }
}
