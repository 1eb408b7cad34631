import Glibc

/// Small process facts, without Foundation. Any thread; each is one cheap syscall.
package enum ProcessInfoLite {
    package static var pid: Int32 { getpid() }

    /// CPUs online now (`sysconf(_SC_NPROCESSORS_ONLN)`).
    package static func cpuCount() -> Int {
        Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
    }

    /// The path of the running executable, as it was when the process started (the file at
    /// that path may be replaced later: that is the binary an upgrade starts).
    package static func executablePath() -> String? {
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buf, buf.count - 1)
        guard n > 0 else { return nil }
        var path = String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if path.hasSuffix(" (deleted)") { path.removeLast(" (deleted)".count) }
        return path
    }
}
