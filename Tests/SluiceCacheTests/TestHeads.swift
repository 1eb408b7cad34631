import SluiceCache
import SluiceHTTP

/// A head parsed from real bytes by SluiceHTTP, kept at a stable address for the rules to read.
final class TestHead {
    let storage: UnsafeMutableRawBufferPointer
    var fields: [HeaderField] = []
    var status = 0
    var method: Method = .other

    var p: UnsafeRawPointer { UnsafeRawPointer(storage.baseAddress!) }

    private init(_ text: String) {
        let bytes = Array(text.utf8)
        storage = .allocate(byteCount: bytes.count, alignment: 8)
        bytes.withUnsafeBytes { storage.copyMemory(from: $0) }
    }

    deinit { storage.deallocate() }

    /// A response head with the given status and field lines ("Name: value").
    static func response(_ status: Int, _ lines: [String] = []) -> TestHead {
        let h = TestHead("HTTP/1.1 \(status) X\r\n" + lines.map { $0 + "\r\n" }.joined() + "\r\n")
        var head = ResponseHead()
        guard case .complete = head.parse(UnsafeRawBufferPointer(h.storage), maxHead: 65536) else {
            fatalError("test response head did not parse: \(lines)")
        }
        h.fields = head.fields
        h.status = head.status
        return h
    }

    /// A request head (`GET /` unless told) with a Host and the given field lines.
    static func request(_ lines: [String] = [], method: String = "GET") -> TestHead {
        let h = TestHead("\(method) /p HTTP/1.1\r\nHost: shop.example\r\n" + lines.map { $0 + "\r\n" }.joined() + "\r\n")
        var head = RequestHead()
        guard case .complete = head.parse(UnsafeRawBufferPointer(h.storage), limits: RequestLimits()) else {
            fatalError("test request head did not parse: \(lines)")
        }
        h.fields = head.fields
        h.method = head.method
        return h
    }

    var cc: CacheControl { CacheControl.parse(p, fields) }
    var responseFacts: ResponseFacts { ResponseFacts.read(p, fields, status: status) }
    var requestFacts: RequestFacts { RequestFacts.read(p, fields) }

    /// The text at `bounds` of this head.
    func text(_ bounds: (start: Int, end: Int)?) -> String? {
        guard let b = bounds else { return nil }
        return String(decoding: UnsafeRawBufferPointer(rebasing: storage[b.start..<b.end]), as: UTF8.self)
    }
}

/// Cache-Control of a response with these Cache-Control lines.
func cacheControl(_ values: String...) -> CacheControl {
    TestHead.response(200, values.map { "Cache-Control: " + $0 }).cc
}

/// Facts of a response with this status and these field lines.
func response(_ status: Int, _ lines: String...) -> ResponseFacts {
    TestHead.response(status, lines).responseFacts
}

/// Facts of a GET request with these field lines.
func request(_ lines: String...) -> RequestFacts {
    TestHead.request(lines).requestFacts
}

/// Runs `body` with `text`'s bytes as a raw buffer (stored ETags and the like).
func withBytes<R>(_ text: String?, _ body: (UnsafeRawBufferPointer?) -> R) -> R {
    guard let text else { return body(nil) }
    let bytes = Array(text.utf8)
    return bytes.withUnsafeBytes { body($0) }
}

let second: UInt64 = 1_000_000_000
