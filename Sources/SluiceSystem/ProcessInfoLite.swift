import Glibc

/// Small process facts, without Foundation. Any thread; each is one cheap syscall.
package enum ProcessInfoLite {
    package static var pid: Int32 { getpid() }

    /// CPUs online now (`sysconf(_SC_NPROCESSORS_ONLN)`).
    package static func cpuCount() -> Int {
        Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
    }
}
