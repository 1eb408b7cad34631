import Glibc
import SluiceConfig
import SluiceSystem

/// The `discovery.file` source: notices when the file changes and reads it then.
///
/// Each `poll` (the runner calls it once a second) costs one stat(2). The file is read and
/// decoded only when its fingerprint (device, inode, size, mtime and ctime to the nanosecond)
/// differs from the one last read, so an edit in place and an atomic rename are both seen,
/// or when `refresh` has passed since the last read (a change the fingerprint missed). The
/// first poll always reads. A failure is a fingerprint too: a missing file is reported again
/// when something changes or at the next `refresh`, not at every poll.
///
/// Blocking file I/O on a small file: control thread only. Not thread-safe.
package final class FileSource {
    package enum Poll: Sendable, Equatable {
        /// Nothing changed since the last read: its result stands.
        case unchanged
        /// The file was read (or could not be): the new result.
        case read(Result<DiscoveryAnswer, DiscoveryError>)
    }

    /// What stat(2) said about the path.
    enum Fingerprint: Equatable {
        case file(dev: UInt64, ino: UInt64, size: Int64, mtime: Int64, mtimeNs: Int, ctime: Int64, ctimeNs: Int)
        case failed(errno: Int32)
    }

    /// A backend list larger than this is refused rather than read.
    static let maxSize = 8 << 20

    package let path: String
    /// Re-read at least this often (ns), changed or not.
    package let refresh: UInt64
    private var seen: Fingerprint?
    private var lastRead: UInt64?

    package init(path: String, refresh: UInt64) {
        self.path = path
        self.refresh = refresh
    }

    /// Stats the file; reads and decodes it when it changed or `refresh` passed since the last read.
    package func poll(now: UInt64) -> Poll {
        let current = Self.fingerprint(path: path)
        if let last = lastRead, current == seen, now >= last, now - last < refresh { return .unchanged }
        lastRead = now
        seen = current
        if case .failed(let e) = current { return .read(.failure(failure(e))) }
        switch read() {
        case .failure(let e): return .read(.failure(e))
        case .success(let (text, readPrint)):
            // The fingerprint of what was read, so a replacement between the stat and the open is seen next time.
            seen = readPrint
            return .read(Self.answer(text, file: path))
        }
    }

    /// The decoded entries, or the first error as FILE:LINE: message (and how many more).
    static func answer(_ text: String, file: String) -> Result<DiscoveryAnswer, DiscoveryError> {
        switch BackendListFile.decode(text, file: file) {
        case .success(let entries):
            let backends = entries.map { e in
                DiscoveredBackend(name: e.name, address: e.address, weight: e.weight, tier: e.standby ? .standby : .primary)
            }
            return .success(DiscoveryAnswer(backends: backends))
        case .failure(let errors):
            guard !errors.errors.isEmpty else { return .failure(DiscoveryError("\(file): invalid backend list")) }
            // Up to three in full (the log and /status are where an operator reads them).
            let shown = errors.errors.prefix(3).map(\.description).joined(separator: "; ")
            let more = errors.errors.count - 3
            return .failure(DiscoveryError(more > 0 ? "\(shown) (and \(more) more)" : shown))
        }
    }

    private func failure(_ e: Int32) -> DiscoveryError {
        DiscoveryError("cannot read \(path): \(String(cString: strerror(e)))")
    }

    static func fingerprint(path: String) -> Fingerprint {
        var st = stat()
        guard stat(path, &st) == 0 else { return .failed(errno: errno) }
        return fingerprint(st)
    }

    static func fingerprint(_ st: stat) -> Fingerprint {
        guard st.st_mode & S_IFMT == S_IFREG else { return .failed(errno: st.st_mode & S_IFMT == S_IFDIR ? EISDIR : EINVAL) }
        return .file(
            dev: UInt64(st.st_dev), ino: UInt64(st.st_ino), size: Int64(st.st_size), mtime: Int64(st.st_mtim.tv_sec),
            mtimeNs: Int(st.st_mtim.tv_nsec), ctime: Int64(st.st_ctim.tv_sec), ctimeNs: Int(st.st_ctim.tv_nsec))
    }

    /// The whole file as text, with the fingerprint of the opened file.
    private func read() -> Result<(String, Fingerprint), DiscoveryError> {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return .failure(failure(errno)) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { return .failure(failure(errno)) }
        let print = Self.fingerprint(st)
        if case .failed(let e) = print { return .failure(failure(e)) }
        guard Int(st.st_size) <= Self.maxSize else {
            return .failure(DiscoveryError("cannot read \(path): larger than \(Self.maxSize >> 20) MiB"))
        }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n == 0 { break }
            if n < 0 {
                if errno == EINTR { continue }
                return .failure(failure(errno))
            }
            bytes.append(contentsOf: chunk[..<n])
            if bytes.count > Self.maxSize {
                return .failure(DiscoveryError("cannot read \(path): larger than \(Self.maxSize >> 20) MiB"))
            }
        }
        return .success((String(decoding: bytes, as: UTF8.self), print))
    }
}
