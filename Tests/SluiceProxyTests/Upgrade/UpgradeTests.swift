import Foundation
import Glibc
import SluiceBackend
import Testing

/// `sluice upgrade` / SIGUSR2 through the real binary (DESIGN §1, docs/high-availability.md):
/// the listening sockets and the runtime state pass to the binary now on disk, nothing is
/// refused under load, and a new binary or configuration that cannot start leaves the old
/// process serving.
@Suite(.serialized) struct UpgradeTests {
    static func yaml(_ backends: [(String, Int)], workers: Int = 2, extra: String = "") -> String {
        """
        workers: \(workers)
        access_log: { path: off }
        timeouts: { drain: 5s }
        \(extra)
        listeners:
          - { name: web, listen: 127.0.0.1:0, routes: [ { cluster: app } ] }
        clusters:
          - name: app
            health_check: { path: /health, interval: 1s, timeout: 500ms, rise: 2, fall: 3 }
            backends:
        \(backends.map { "      - { name: \($0.0), address: 127.0.0.1:\($0.1) }" }.joined(separator: "\n"))
        """
    }

    @Test func upgradesUnderLoadRefuseNothingAndCarryHealthDrainWeightsAndAddedBackends() throws {
        let a = try backend("a")
        let b = try backend("b")
        let sick = try backend("sick", BackendBehavior(healthy: false))
        let added = try backend("added")
        let rig = try UpgradeRig(yaml: Self.yaml([("a", a.port), ("b", b.port), ("sick", sick.port)]))
        let port = try rig.sluice.port(of: "web")
        let admin = try rig.sluice.adminPort()
        #expect(rig.waitForPidFile())
        // Three failed checks a second apart: a new process starting from scratch would count
        // "sick" healthy for three seconds, so traffic reaching it would show a lost state.
        #expect(DiscoveryRig.until(10) { try DiscoveryRig.backends(admin)["sick"]?["state"] as? String == "unhealthy" } != nil)
        #expect(try DiscoveryRig.call(admin, "POST", "/clusters/app/backends/b/drain").status == 200)
        #expect(try DiscoveryRig.call(admin, "PUT", "/clusters/app/backends/a/weight", body: "7").status == 200)
        let body = "{\"name\": \"added\", \"address\": \"127.0.0.1:\(added.port)\"}"
        #expect(try DiscoveryRig.call(admin, "POST", "/clusters/app/backends", body: body).status == 201)
        #expect(DiscoveryRig.until(10) { try DiscoveryRig.backends(admin)["added"]?["state"] as? String == "healthy" } != nil)

        let keepAlive = SteadyLoad(port: port, rate: 200, threads: 4)
        let fresh = NewConnectionLoad(port: port, rate: 100)
        usleep(500_000)
        var pids = [rig.currentPid]
        for i in 0..<3 {
            let r = try rig.upgrade()
            #expect(r.status == 0, "upgrade \(i): \(r.err)")
            #expect(r.out.contains("upgraded: pid \(pids.last!) -> \(rig.currentPid)"), "\(r.out)")
            #expect(rig.currentPid != pids.last!, "the pid file names the new process")
            pids.append(rig.currentPid)
            // Straight after the handover: the new process answers with the old one's state.
            let now = try DiscoveryRig.backends(admin)
            #expect(now["sick"]?["state"] as? String == "unhealthy", "upgrade \(i): \(now["sick"] ?? [:])")
            #expect(now["b"]?["state"] as? String == "draining")
            #expect(now["a"]?["weight"] as? Int == 7)
            #expect(now["added"]?["source"] as? String == "api" && now["added"]?["state"] as? String == "healthy")
            usleep(700_000)
        }
        keepAlive.stop()
        fresh.stop()
        #expect(keepAlive.errors.isEmpty, "keep-alive errors: \(keepAlive.errors.prefix(5))")
        #expect(fresh.errors.isEmpty, "new-connection errors: \(fresh.errors.prefix(5))")
        #expect(keepAlive.ok > 300 && fresh.ok > 150, "load ran: \(keepAlive.ok) + \(fresh.ok)")
        #expect(keepAlive.served(by: "sick") == 0 && keepAlive.served(by: "b") == 0)
        #expect(keepAlive.served(by: "added") > 0)
        // Each old process drained and exited.
        for pid in pids.dropLast() { #expect(UpgradeRig.waitGone(pid, timeout: 10), "pid \(pid) exited") }
        #expect(rig.sluice.log.contains("upgrade: state taken over from the previous process"))
        rig.stop()
        #expect(!FileManager.default.fileExists(atPath: rig.pidFile), "the last process removes its pid file")
    }

    @Test func aBinaryThatExitsAtStartOrABadConfigLeavesTheOldProcessServing() throws {
        let a = try backend("a")
        let rig = try UpgradeRig(yaml: Self.yaml([("a", a.port)]))
        let port = try rig.sluice.port(of: "web")
        #expect(rig.waitForPidFile())
        let first = rig.currentPid
        let keepAlive = SteadyLoad(port: port, rate: 200, threads: 4)
        let fresh = NewConnectionLoad(port: port, rate: 100)
        defer {
            keepAlive.stop()
            fresh.stop()
        }

        try rig.replaceBinary(withScript: "#!/bin/sh\nexit 3\n")
        let broken = try rig.upgrade()
        #expect(broken.status == 1)
        #expect(broken.err.contains("keeps serving") && broken.err.contains("exited with status 3"), "\(broken.err)")
        #expect(rig.currentPid == first && UpgradeRig.alive(first))
        usleep(300_000)  // the load goes on meanwhile

        // The real binary again, but a configuration that does not validate.
        try rig.replaceBinary(withScript: nil)
        let good = try String(contentsOfFile: rig.sluice.configPath, encoding: .utf8)
        try (good + "\nbogus_key: 1\n").write(toFile: rig.sluice.configPath, atomically: true, encoding: .utf8)
        let invalid = try rig.upgrade()
        #expect(invalid.status == 1)
        usleep(300_000)  // the load goes on meanwhile
        #expect(invalid.err.contains("does not validate") && invalid.err.contains(rig.sluice.configPath + ":"), "\(invalid.err)")
        #expect(rig.currentPid == first)

        // Another number of workers: the accept queues cannot be split, so it is refused.
        try good.replacingOccurrences(of: "workers: 2", with: "workers: 3").write(
            toFile: rig.sluice.configPath, atomically: true, encoding: .utf8)
        let workers = try rig.upgrade()
        #expect(workers.status == 1 && workers.err.contains("workers"), "\(workers.err)")
        usleep(300_000)  // the load goes on meanwhile
        #expect(rig.currentPid == first)

        try good.write(toFile: rig.sluice.configPath, atomically: true, encoding: .utf8)
        let fixed = try rig.upgrade()
        #expect(fixed.status == 0, "\(fixed.err)")
        #expect(rig.currentPid != first)
        // The listener renamed, same address: its sockets are taken over, not bound anew.
        try good.replacingOccurrences(of: "name: web, listen: 127.0.0.1:0", with: "name: shop, listen: 127.0.0.1:\(port)").write(
            toFile: rig.sluice.configPath, atomically: true, encoding: .utf8)
        let renamed = try rig.upgrade()
        #expect(renamed.status == 0, "\(renamed.err)")
        #expect(
            rig.sluice.log.contains("listener=shop [SluiceProxy] listening (sockets handed over by the previous process)"),
            "\(rig.sluice.log.suffix(1500))")
        usleep(500_000)
        keepAlive.stop()
        fresh.stop()
        #expect(keepAlive.errors.isEmpty, "keep-alive errors: \(keepAlive.errors.prefix(5))")
        #expect(fresh.errors.isEmpty, "new-connection errors: \(fresh.errors.prefix(5))")
        #expect(keepAlive.ok > 200 && fresh.ok > 80, "load ran: \(keepAlive.ok) + \(fresh.ok)")
        #expect(rig.sluice.log.contains("upgrade failed, this process keeps serving"))
        rig.stop()
    }

    @Test func aNewProcessThatNeverAnswersIsKilledAndTheOldOneServesOn() throws {
        let a = try backend("a")
        let rig = try UpgradeRig(yaml: Self.yaml([("a", a.port)]))
        let port = try rig.sluice.port(of: "web")
        #expect(rig.waitForPidFile())
        let first = rig.currentPid
        try rig.replaceBinary(withScript: "#!/bin/sh\nexec sleep 120\n")
        let fresh = NewConnectionLoad(port: port, rate: 50)
        let started = Date()
        let r = try rig.upgrade()
        fresh.stop()
        // max(10 s, timeouts.drain = 5 s)
        #expect(r.status == 1 && r.err.contains("not ready within 10 s"), "\(r.err)")
        #expect(Date().timeIntervalSince(started) < 20)
        #expect(rig.currentPid == first && UpgradeRig.alive(first))
        #expect(fresh.errors.isEmpty && fresh.ok > 100, "\(fresh.ok) ok, \(fresh.errors.prefix(3))")
        // The hung child was killed, not left behind.
        let outcome = try String(contentsOfFile: rig.pidFile + ".upgrade", encoding: .utf8)
        let doc = try JSONSerialization.jsonObject(with: Data(outcome.utf8)) as? [String: Any]
        let child = (doc?["new_pid"] as? Int).map(Int32.init) ?? 0
        #expect(child > 0 && UpgradeRig.waitGone(child, timeout: 5), "\(outcome)")
        rig.stop()
    }

    /// A binary still open for writing somewhere (an installer that has not closed it yet, or
    /// a child another process is just starting that holds a copy of the descriptor) cannot be
    /// executed: ETXTBSY. The old process tries again for 0.5 s, then fails with that reason.
    @Test func aBinaryStillOpenForWritingIsTriedAgainBrieflyThenTheUpgradeFailsWithTheReason() throws {
        let a = try backend("a")
        let rig = try UpgradeRig(yaml: Self.yaml([("a", a.port)]))
        #expect(rig.waitForPidFile())
        let first = rig.currentPid
        try rig.replaceBinary(withScript: nil)

        // Held open for writing throughout: the upgrade fails, the old process serves on.
        let held = open(rig.binary.path, O_WRONLY | O_CLOEXEC)
        #expect(held >= 0)
        let busy = try rig.upgrade()
        #expect(busy.status == 1 && busy.err.contains("Text file busy"), "\(busy.err)")
        #expect(rig.currentPid == first && UpgradeRig.alive(first))

        // Closed 0.2 s after the upgrade began: the retry starts the binary.
        let closer = Thread {
            usleep(200_000)
            close(held)
        }
        closer.start()
        let late = try rig.upgrade()
        #expect(late.status == 0, "\(late.err)")
        #expect(rig.currentPid != first)
        rig.stop()
    }

    @Test func aKeptAliveConnectionGetsConnectionCloseAndSystemdFollowsTheNewProcess() throws {
        let a = try backend("a")
        // The notify socket systemd would listen on.
        let socketPath = NSTemporaryDirectory() + "sluice-notify-\(UUID().uuidString.prefix(8))"
        let notify = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        defer {
            close(notify)
            unlink(socketPath)
        }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { dst in
            for (i, c) in socketPath.utf8.enumerated() { dst[i] = c }
        }
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(notify, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        #expect(bound == 0)
        var tv = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(notify, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        func message() -> String {
            var buf = [UInt8](repeating: 0, count: 512)
            let n = recv(notify, &buf, buf.count, 0)
            return n > 0 ? String(decoding: buf[0..<n], as: UTF8.self) : ""
        }

        let rig = try UpgradeRig(yaml: Self.yaml([("a", a.port)]), environment: ["NOTIFY_SOCKET": socketPath])
        let port = try rig.sluice.port(of: "web")
        #expect(message() == "READY=1")
        #expect(rig.waitForPidFile())
        let client = try TestClient(port: port)
        let before = try client.request("GET / HTTP/1.1\r\nHost: shop\r\n\r\n")
        #expect(before.status == 200 && before.header("connection")?.lowercased() != "close")

        let r = try rig.upgrade()
        #expect(r.status == 0, "\(r.err)")
        #expect(message() == "MAINPID=\(rig.currentPid)\nREADY=1")
        // The old process still owns this connection: its next answer is its last.
        let after = try client.request("GET / HTTP/1.1\r\nHost: shop\r\n\r\n")
        #expect(after.status == 200 && after.header("connection")?.lowercased() == "close")
        #expect(client.isClosedByServer())
        rig.stop()
    }
}
