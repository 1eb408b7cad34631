import Glibc
import Testing

@testable import SluiceSystem

/// The upgrade's child gets exactly the descriptors it is given, renumbered 3, 4, ...: a
/// client connection that leaked into it would stay open after the old process closed it.
@Suite struct ChildProcessTests {
    @Test func theChildHasOnlyTheGivenDescriptorsInOrder() throws {
        let first = try ChildProcess.pipe()
        let second = try ChildProcess.pipe()
        // Descriptors without close-on-exec, as a careless open would leave them: not passed.
        let strays = (0..<5).map { _ in dup(0) }
        defer { for fd in strays { close(fd) } }
        let pid = try ChildProcess.spawn(
            path: "/bin/sh",
            arguments: [
                "-c",
                "echo three >&3; echo four >&4; for n in 5 6 7 8 9 10 11 12; do [ -e /proc/$$/fd/$n ] && echo leaked $n >&3; done; exit 0",
            ],
            environment: ["PATH=/usr/bin:/bin"], fds: [second.write, first.write])
        close(first.write)
        close(second.write)
        let toThree = String(decoding: ChildProcess.readAll(second.read) ?? [], as: UTF8.self)
        let toFour = String(decoding: ChildProcess.readAll(first.read) ?? [], as: UTF8.self)
        close(first.read)
        close(second.read)
        #expect(toThree == "three\n", "fd 3 is the first given, and nothing else is open: \(toThree)")
        #expect(toFour == "four\n")
        var ending: ChildProcess.Ending?
        for _ in 0..<200 where ending == nil {
            ending = ChildProcess.reap(pid)
            if ending == nil { usleep(10_000) }
        }
        #expect(ending == .exited(0))
    }

    @Test func aChildThatFailsIsReapedWithItsStatus() throws {
        let pid = try ChildProcess.spawn(path: "/bin/sh", arguments: ["-c", "exit 3"], environment: [], fds: [])
        var ending: ChildProcess.Ending?
        for _ in 0..<200 where ending == nil {
            ending = ChildProcess.reap(pid)
            if ending == nil { usleep(10_000) }
        }
        #expect(ending == .exited(3))
        #expect(throws: SystemError.self) {
            try ChildProcess.spawn(path: "/nonexistent/sluice", arguments: [], environment: [], fds: [])
        }
    }
}
