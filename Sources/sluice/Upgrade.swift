import ArgumentParser
import Foundation
import Glibc
import SluiceProxy

/// `sluice upgrade --pid-file FILE`: SIGUSR2 to the running process, then its outcome.
struct Upgrade: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replace the running process by the binary now on disk, without refusing a connection.",
        discussion: """
            Sends SIGUSR2 to the process named in the pid file. It starts the binary now at its \
            path with the same arguments, handing over its listening sockets and runtime state \
            (health, ejections, drain/disable, runtime weights and backends); once the new \
            process serves, the old one stops accepting, finishes its requests and exits. Exits \
            0 when the new process serves, 1 with the reason when it did not (the old one then \
            keeps serving).
            """)

    @Option(name: .long, help: "The pid file the running process was started with (run --pid-file).")
    var pidFile: String

    @Option(name: .long, help: "Seconds to wait for the outcome.")
    var timeout: Double = 60

    func run() throws {
        guard let text = try? String(contentsOfFile: pidFile, encoding: .utf8),
            let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0
        else {
            fail("cannot read a pid from \(pidFile)")
        }
        let outcomePath = UpgradeOutcome.path(pidFile: pidFile)
        try? FileManager.default.removeItem(atPath: outcomePath)
        guard kill(pid, SIGUSR2) == 0 else {
            fail("cannot signal pid \(pid) from \(pidFile): \(String(cString: strerror(errno)))")
        }
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let data = FileManager.default.contents(atPath: outcomePath),
                let o = try? JSONDecoder().decode(UpgradeOutcome.self, from: data), o.oldPid == pid
            {
                if o.result == "upgraded" {
                    print("upgraded: pid \(pid) -> \(o.newPid.map(String.init) ?? "?"); pid \(pid) drains and exits")
                    return
                }
                fail("upgrade failed, pid \(pid) keeps serving: \(o.reason ?? "no reason given")")
            }
            if kill(pid, 0) != 0 && errno == ESRCH {
                fail("pid \(pid) ended without reporting an outcome (see its log)")
            }
            usleep(20_000)
        }
        fail("no outcome from pid \(pid) within \(timeout) s (see its log; was it started with --pid-file \(pidFile)?)")
    }

    private func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data(("sluice upgrade: " + message + "\n").utf8))
        Upgrade.exit(withError: ExitCode(1))
    }
}
