import CSluiceLinux
import Foundation
import Glibc
import SluiceDiscovery
import SluiceSystem

/// A real dnsmasq on 127.0.0.1 for tests: names from a hosts file, SRV records from flags.
///
/// `start(hosts:srv:)` picks a free UDP port (bind port 0, read it, close; retried when dnsmasq
/// then fails to bind it), runs `/usr/sbin/dnsmasq` in the foreground with no upstream, no
/// /etc/hosts and TTL 1 on local answers, and returns once it answers a query. dnsmasq re-reads
/// its hosts file on SIGHUP (`rewriteHosts`) but not its SRV flags (`restart(srv:)`). Ended by
/// PID (`stop()`; call it in a `defer`). Its log is kept in `logPath` for failing tests.
package final class DNSMasq: @unchecked Sendable {
    /// One `--srv-host`: `name` (e.g. `_http._tcp.svc.test`), target, port, priority, weight.
    package struct SRV {
        package var name: String
        package var target: String
        package var port: Int
        package var priority: Int = 0
        package var weight: Int = 0

        package init(name: String, target: String, port: Int, priority: Int = 0, weight: Int = 0) {
            self.name = name
            self.target = target
            self.port = port
            self.priority = priority
            self.weight = weight
        }

        var flag: String { "--srv-host=\(name),\(target),\(port),\(priority),\(weight)" }
    }

    package static let binary = "/usr/sbin/dnsmasq"

    /// Answered from local data only (`--local=/test/`): without it, a type the hosts file lacks
    /// for a name (AAAA of a v4-only name) would be forwarded, and with no upstream dnsmasq
    /// answers REFUSED instead of NOERROR with no data.
    package let domain: String
    package let directory: String
    package let hostsPath: String
    package let logPath: String
    package private(set) var port = 0
    package private(set) var srv: [SRV] = []
    private(set) var cnames: [(alias: String, target: String)] = []
    package private(set) var pid: Int32?

    /// The resolver address to give a `DNSClient`.
    package var address: SocketAddress { SocketAddress.numeric("127.0.0.1:\(port)")! }

    package init(domain: String = "test") throws {
        self.domain = domain
        var template = Array("/tmp/sluice-dnsmasq-XXXXXX".utf8CString)
        guard let dir = mkdtemp(&template) else { throw DNSMasqError("mkdtemp failed") }
        directory = String(cString: dir)
        chmod(directory, 0o755)  // dnsmasq drops to user nobody when started as root
        hostsPath = directory + "/hosts"
        logPath = directory + "/dnsmasq.log"
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Writes `hosts` (lines of a hosts file) and starts dnsmasq serving it, `srv` and
    /// `cnames` (alias → target; dnsmasq answers them only for targets it knows locally).
    package func start(hosts: String, srv: [SRV] = [], cnames: [(alias: String, target: String)] = []) throws {
        try writeHosts(hosts)
        self.cnames = cnames
        try launch(srv: srv)
    }

    /// Replaces the hosts file and sends SIGHUP: dnsmasq clears its cache and re-reads it.
    /// Returns at once; poll for the new answer.
    package func rewriteHosts(_ hosts: String) throws {
        try writeHosts(hosts)
        guard let pid else { throw DNSMasqError("dnsmasq is not running") }
        kill(pid, SIGHUP)
    }

    /// Stops dnsmasq and starts it again with other SRV records, on the same port when it is
    /// still free (a client configured with the port keeps asking the right place).
    package func restart(srv: [SRV]) throws {
        stop()
        try launch(srv: srv, preferring: port)
    }

    /// Ends dnsmasq (SIGTERM, by PID) and reaps it.
    package func stop() {
        guard let p = pid else { return }
        pid = nil
        Self.end(p)
    }

    /// dnsmasq's log, for a failing test's message.
    package var log: String {
        [logPath, directory + "/stderr"].map { (try? String(contentsOfFile: $0, encoding: .utf8)) ?? "" }.joined()
    }

    private func writeHosts(_ text: String) throws {
        try text.write(toFile: hostsPath, atomically: true, encoding: .utf8)
        chmod(hostsPath, 0o644)
    }

    private func launch(srv: [SRV], preferring preferred: Int = 0) throws {
        self.srv = srv
        var last = ""
        for attempt in 0..<10 {
            let port = attempt == 0 && preferred != 0 ? preferred : try Self.freeUDPPort()
            let arguments =
                [
                    Self.binary, "--keep-in-foreground", "--no-resolv", "--no-hosts", "--conf-file=/dev/null", "--pid-file=",
                    "--listen-address=127.0.0.1", "--bind-interfaces", "--port=\(port)", "--addn-hosts=\(hostsPath)",
                    "--local-ttl=1", "--log-facility=\(logPath)", "--log-queries", "--local=/\(domain)/",
                ] + srv.map(\.flag) + cnames.map { "--cname=\($0.alias),\($0.target)" }
            let p = try spawn(arguments)
            if Self.answers(port: port, pid: p) {
                pid = p
                self.port = port
                return
            }
            Self.end(p)
            last = log
        }
        throw DNSMasqError("dnsmasq did not start: \(last)")
    }

    /// posix_spawn with an empty signal mask and default handlers: a test runs on a thread that
    /// blocks most signals (libdispatch's workers do), and a child inherits the mask, so a
    /// dnsmasq started with Foundation's `Process` from there ignores SIGTERM and SIGHUP.
    private func spawn(_ arguments: [String]) throws -> Int32 {
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var empty = sigset_t()
        sigemptyset(&empty)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attr, &empty)
        posix_spawnattr_setsigdefault(&attr, &all)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, directory + "/stderr", O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // Nothing else of the test process: tests run in parallel, and a descriptor dnsmasq
        // inherited stays open in it until dnsmasq closes it at start (a writable one of a
        // script another test is about to exec makes that exec fail with ETXTBSY meanwhile).
        csluice_spawn_file_actions_closefrom(&actions, 3)
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        var child: pid_t = 0
        let rc = posix_spawn(&child, Self.binary, &actions, &attr, &argv, environ)
        guard rc == 0 else { throw DNSMasqError("posix_spawn \(Self.binary): errno \(rc)") }
        return child
    }

    /// Unless it has exited already: SIGTERM to `pid`, then waits (at most 5 s, then SIGKILL) until it is reaped.
    private static func end(_ pid: Int32) {
        var status: Int32 = 0
        guard waitpid(pid, &status, WNOHANG) == 0 else { return }  // exited and reaped already
        kill(pid, SIGTERM)
        let end = Date().addingTimeInterval(5)
        while true {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid || (r < 0 && errno == ECHILD) { return }
            if Date() > end {
                kill(pid, SIGKILL)
                _ = waitpid(pid, &status, 0)
                return
            }
            usleep(5_000)
        }
    }

    /// Is `pid` still running (not exited; reaps it when it has)?
    private static func running(_ pid: Int32) -> Bool {
        var status: Int32 = 0
        return waitpid(pid, &status, WNOHANG) == 0
    }

    /// A port no UDP socket on 127.0.0.1 holds right now.
    package static func freeUDPPort() throws -> Int {
        let fd = try UDPSocket.bound(to: SocketAddress.resolve("127.0.0.1:0"))
        defer { Socket.close(fd) }
        return try Socket.localAddress(fd).port
    }

    /// Polls with a query until dnsmasq answers (any reply), it exits, or 5 s pass.
    private static func answers(port: Int, pid: Int32) -> Bool {
        guard let fd = try? UDPSocket.connected(to: SocketAddress.numeric("127.0.0.1:\(port)")!) else { return false }
        defer { Socket.close(fd) }
        let query = try! DNSMessage.query(id: 1, name: "ready.probe", type: .a)
        var buffer = [UInt8](repeating: 0, count: 2048)
        let end = Date().addingTimeInterval(5)
        while Date() < end && running(pid) {
            _ = try? UDPSocket.send(fd, query)
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&pfd, 1, 50) > 0, case .done? = try? UDPSocket.receive(fd, into: &buffer) { return true }
            usleep(10_000)  // ECONNREFUSED comes back at once while nothing listens yet
        }
        return false
    }
}

package struct DNSMasqError: Error, CustomStringConvertible {
    package let description: String
    package init(_ d: String) { description = d }
}
