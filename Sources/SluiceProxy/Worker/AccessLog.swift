import SluiceBuffers
import SluiceConfig
import SluiceSystem
import Synchronization

/// Where access-log lines go: one descriptor shared by all workers, reopened on SIGUSR1.
///
/// Workers hand it whole batches of lines; a mutex keeps batches from interleaving.
/// Taken once per event-loop batch, not per request.
final class AccessLogSink: Sendable {
    let target: AccessLogTarget
    let format: AccessLogFormat
    private let fd: Mutex<Int32>

    init(_ config: AccessLogConfig) throws(SystemError) {
        target = config.target
        format = config.format
        switch config.target {
        case .stdout: fd = Mutex(1)
        case .stderr: fd = Mutex(2)
        case .off: fd = Mutex(-1)
        case .file(let path): fd = Mutex(try LogFile.open(path: path))
        }
    }

    var enabled: Bool { target != .off }

    func write(_ p: UnsafeRawPointer, _ n: Int) {
        fd.withLock { f in
            if f >= 0 { LogFile.writeAll(f, p, n) }
        }
    }

    /// Reopens the file (after logrotate moved it). Control thread.
    func reopen() throws(SystemError) {
        guard case .file(let path) = target else { return }
        let new = try LogFile.open(path: path)
        fd.withLock { f in
            LogFile.close(f)
            f = new
        }
    }
}

/// A worker's buffer of access-log lines, flushed at the end of each event batch.
final class AccessLogWriter {
    let sink: AccessLogSink
    let buffer = ByteBuffer(capacity: 64 * 1024)
    private var cachedSecond: UInt64 = .max
    private var cachedStamp = [UInt8](repeating: 0, count: 32)
    private var cachedStampLength = 0
    private var cachedCombined = [UInt8](repeating: 0, count: 32)
    private var cachedCombinedLength = 0

    init(sink: AccessLogSink) { self.sink = sink }

    var enabled: Bool { sink.enabled }
    var format: AccessLogFormat { sink.format }

    func flush() {
        guard !buffer.isEmpty else { return }
        sink.write(buffer.readPointer, buffer.readableCount)
        buffer.clear()
    }

    func lineDone() {
        if buffer.readableCount > 48 * 1024 { flush() }
    }

    /// RFC 3339 UTC with milliseconds: 2026-11-27T01:28:29.123Z
    func appendRFC3339(_ wallNanos: UInt64) {
        let second = wallNanos / 1_000_000_000
        if second != cachedSecond { recache(second) }
        cachedStamp.withUnsafeBytes { buffer.append($0.baseAddress!, cachedStampLength) }
        let ms = Int(wallNanos / 1_000_000 % 1000)
        buffer.append(UInt8(ascii: "."))
        buffer.append(UInt8(48 + ms / 100))
        buffer.append(UInt8(48 + ms / 10 % 10))
        buffer.append(UInt8(48 + ms % 10))
        buffer.append(UInt8(ascii: "Z"))
    }

    /// Apache's [27/Nov/2026:01:28:29 +0000]
    func appendCombinedTime(_ wallNanos: UInt64) {
        let second = wallNanos / 1_000_000_000
        if second != cachedSecond { recache(second) }
        cachedCombined.withUnsafeBytes { buffer.append($0.baseAddress!, cachedCombinedLength) }
    }

    private func recache(_ second: UInt64) {
        cachedSecond = second
        let (y, mo, d) = Self.civil(fromDays: Int(second / 86400))
        let sod = Int(second % 86400)
        let h = sod / 3600
        let mi = sod / 60 % 60
        let s = sod % 60
        func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let stamp = "\(y)-\(two(mo))-\(two(d))T\(two(h)):\(two(mi)):\(two(s))"
        cachedStamp = Array(stamp.utf8)
        cachedStampLength = cachedStamp.count
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let combined = "[\(two(d))/\(months[mo - 1])/\(y):\(two(h)):\(two(mi)):\(two(s)) +0000]"
        cachedCombined = Array(combined.utf8)
        cachedCombinedLength = cachedCombined.count
    }

    /// Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    static func civil(fromDays z0: Int) -> (Int, Int, Int) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? y + 1 : y, m, d)
    }

    /// Appends bytes as the inside of a JSON string.
    func appendJSONEscaped(_ p: UnsafeRawPointer, _ n: Int) {
        for i in 0..<n {
            let c = p.load(fromByteOffset: i, as: UInt8.self)
            if c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\") {
                buffer.append(UInt8(ascii: "\\"))
                buffer.append(c)
            } else if c < 0x20 || c >= 0x7F {
                buffer.append("\\u00")
                let hex: StaticString = "0123456789abcdef"
                buffer.append(hex.utf8Start[Int(c >> 4)])
                buffer.append(hex.utf8Start[Int(c & 15)])
            } else {
                buffer.append(c)
            }
        }
    }

    func appendJSONString(_ s: String) {
        buffer.append(UInt8(ascii: "\""))
        var s = s
        s.withUTF8 { u in appendJSONEscaped(u.baseAddress!, u.count) }
        buffer.append(UInt8(ascii: "\""))
    }
}
