import Foundation
import Logging
import SluiceEventLoop
import SluiceSystem

/// The control thread: signals (through a signalfd) and the admin listener, on one event loop.
///
/// SIGHUP reloads, SIGUSR1 reopens the access log, SIGTERM/SIGINT end `run()` and then
/// drain the workers. Admin requests are handled here too: they are rare and small, and
/// gathering counters from the workers goes through their task queues.
public final class ControlLoop: EventHandler, @unchecked Sendable {
    let server: ProxyServer
    let loop: EventLoop
    let signalFD: Int32
    var admin: AdminServer?
    var stopping = false
    /// Traffic-state changes go here when `admin.alert_webhook` is set (checked each tick, so a
    /// reload can set, move or remove it).
    var webhook: AlertWebhook?
    /// The upgrade under way (SIGUSR2), nil otherwise.
    var upgrade: UpgradeAttempt?
    /// What SIGUSR2 starts: the binary's path as it was at start (the file now at that path
    /// is the new binary) and the arguments this process was started with. Nil: no upgrade.
    public var upgradeCommand: (path: String, arguments: [String])?
    /// `--pid-file`: the upgrade's outcome goes to `FILE.upgrade` for `sluice upgrade`.
    public var pidFile: String?

    /// `signalFD` from `Signals.blockAndOpenFD()`, opened before any thread started.
    /// `inheritedAdmin`: the admin listener's socket handed over by the process this one upgrades.
    public init(server: ProxyServer, signalFD: Int32, inheritedAdmin: Int32? = nil) throws {
        self.server = server
        self.signalFD = signalFD
        loop = try EventLoop()
        try loop.register(signalFD, self, events: EpollEvents.readable)
        let config = server.snapshot.config
        if let address = config.admin.listen {
            // Read and checked at load: never nil when a token file is configured.
            let a = try AdminServer(
                server: server, loop: loop, address: address, token: config.admin.token, inherited: inheritedAdmin)
            admin = a
            server.logger.info("admin listening", metadata: ["address": "\(a.address)"])
        }
    }

    /// The admin listener's address (its real port when the config said port 0).
    public var adminAddress: SocketAddress? { admin?.address }

    /// Runs until SIGTERM or SIGINT, then drains and stops the workers. Blocks.
    public func run() {
        loop.after(1_000_000_000) { [self] in tick() }
        server.startDiscovery(on: loop)
        loop.run()
        server.stopDiscovery()
        webhook?.close()
        admin?.close()
        server.logger.info("stopping: draining in-flight requests")
        // After a handover, kept-alive connections get their next answer with
        // `Connection: close` and only those idle for a second are closed: a client sending
        // its next request at that moment would otherwise see it fail.
        server.shutdown(idleGrace: server.handedOver ? 1_000_000_000 : 0)
    }

    /// Once a second: a point of history for every cluster and backend, and the webhook for
    /// the traffic-state changes it found.
    func tick() {
        let started = Clock.monotonicNanos()
        _ = server.readiness()  // logs the moment it becomes ready
        let sample = server.sample()
        let events = server.tickHistory(sample)
        server.tickMembership(sample)
        let target = server.snapshot.config.admin.alertWebhook
        if let target {
            if webhook == nil {
                webhook = AlertWebhook(loop: loop, target: target, logger: server.logger)
            } else if webhook?.target != target {
                webhook?.retarget(target)
            }
        } else if let w = webhook, w.pending == 0 {
            w.close()
            webhook = nil
        }
        if let webhook {
            for e in events { if let json = server.webhookJSON(e) { webhook.post(json) } }
        }
        // The next tick one second after this one started (a slow sample does not make it drift).
        let spent = Clock.monotonicNanos() &- started
        loop.after(spent >= 1_000_000_000 ? 1_000_000 : 1_000_000_000 - spent) { [self] in tick() }
    }

    public func handleEvent(_ events: UInt32) {
        while let sig = Signals.next(signalFD) {
            switch sig {
            case Signals.hangup:
                server.reloadFromFile()
            case Signals.user1:
                server.reopenAccessLog()
            case Signals.user2:
                startUpgrade()
            case Signals.terminate, Signals.interrupt:
                // /readyz turns 503 first; listeners keep accepting for `ready_grace` so an
                // outer keepalived or balancer moves traffic before anything is refused. A
                // second signal does not wait for the rest of the grace.
                server.beginStopping()
                let grace = server.snapshot.timeouts.readyGrace
                if stopping || grace == 0 {
                    loop.stop()
                } else {
                    server.logger.notice(
                        "stopping after ready_grace: still accepting meanwhile", metadata: ["ready_grace_ms": "\(grace / 1_000_000)"])
                    loop.after(grace) { [self] in loop.stop() }
                }
                stopping = true
            default:
                break
            }
        }
    }
}
