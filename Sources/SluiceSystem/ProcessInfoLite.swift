import Glibc

/// Small process facts, without Foundation. Any thread; each is one cheap syscall.
public enum ProcessInfoLite {
    public static var pid: Int32 { getpid() }

    /// CPUs online now (`sysconf(_SC_NPROCESSORS_ONLN)`).
    public static func cpuCount() -> Int {
        Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
    }
}
