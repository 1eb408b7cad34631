import Foundation
import Logging
import SluiceConfig
import SluiceDiscovery
import SluiceEventLoop
import SluiceSystem
import SluiceTLS

/// The load balancer: worker threads, their listening sockets, and the shared snapshot.
///
/// Created and controlled from one control thread (`start`, `reopenAccessLog`, `shutdown`);
/// commands reach workers through their loops' task queues.
public final class ProxyServer: @unchecked Sendable {
    public let logger: Logger
    var snapshot: Snapshot
    private let shared: SharedState
    var workers: [Worker] = []
    private var finished: [DispatchSemaphore] = []
    var boundAddresses: [String: SocketAddress] = [:]
    private var started = false
    let registry: BackendRegistry
    /// The file `reloadFromFile()` reads (nil for the demo's built-in config).
    public var configPath: String?
    var reloadSuccesses = 0
    var reloadFailures = 0
    var lastReload: (success: Bool, at: Date, errors: [String])? = nil
    var lastReloadSuccess = Date()
    let startedAt = Date()
    /// The last 15 minutes, one point a second (`tickHistory`), and the events. Control thread.
    let history = History()
    /// The configuration as loaded (with runtime weights of configured backends): snapshots are
    /// built from `runtime.effective(fileConfig)`, which adds the runtime backends. Control thread.
    var fileConfig: Config
    /// Discovered and API-added backends (docs/discovery.md). Control thread.
    var runtime = RuntimeBackends()
    /// The loop discovery runs on (the control loop, from `startDiscovery`) and one runner per
    /// cluster with `discovery`.
    var discoveryLoop: EventLoop?
    var runners: [String: DiscoveryRunner] = [:]
    /// `/readyz`: when it first found every cluster checked; whether a shutdown began.
    var readySince: Date?
    var stopping = false
    /// Weights set with `PUT .../weight` on configured backends since the last reload, by
    /// "cluster\0backend" (an upgrade carries them over; a reload drops them).
    var runtimeWeights: [String: Int] = [:]
    /// Each listener's per-worker sockets by listener name (what an upgrade hands over).
    /// Control thread; follows reloads.
    var listenerFDs: [String: [Int32]] = [:]
    /// An upgrade handed the sockets to a new process: this one only drains.
    var handedOver = false

    public init(config: Config, logger: Logger) throws {
        self.logger = logger
        // OpenSSL writes to sockets with write(2), not send(MSG_NOSIGNAL): a peer that closed
        // must give EPIPE, not a signal that ends the process.
        Signals.ignorePipe()
        registry = BackendRegistry(logger: logger)
        fileConfig = config
        // Loaded once here (and at each reload), never again for a runtime change: fail at start.
        let upstream = try Snapshot.loadUpstreamTLS(config)
        snapshot = Snapshot(
            config: config, generation: 1, registry: registry, tls: try Snapshot.loadTLS(config), upstream: upstream)
        registry.snapshotBuilt()
        let sink = try AccessLogSink(config.accessLog)
        shared = SharedState(maxConnections: config.limits.maxConnections, accessLog: sink, registry: registry, logger: logger)
    }

    /// The configuration generation being served (1, then +1 per successful reload).
    public var generation: Int { snapshot.generation }

    /// Binds every listener in every worker and starts the worker threads.
    /// A listener that cannot be bound throws a `ListenError` naming it, its address and FILE:LINE.
    /// `inherited`: per listener name, one socket per worker handed over by the process this
    /// one upgrades (`Inheritance.match`); those are used instead of binding.
    public func start(inheriting inherited: [String: [Int32]] = [:]) throws {
        let config = snapshot.config
        for i in 0..<config.workers {
            workers.append(try Worker(index: i, snapshot: snapshot, shared: shared))
        }
        shared.install(inboxes: workers.map(\.inbox))
        for (li, l) in config.listeners.enumerated() {
            var address = l.address
            let given = inherited[l.name] ?? []
            var fds: [Int32] = []
            for (wi, w) in workers.enumerated() {
                let fd: Int32
                if wi < given.count {
                    fd = given[wi]
                } else {
                    do {
                        fd = try Socket.listen(address, reusePort: true)
                    } catch {
                        throw ListenError(config: config, listener: l, error: error)
                    }
                }
                fds.append(fd)
                if address.port == 0 { address = try Socket.localAddress(fd) }
                let h = ListenerHandler(worker: w, fd: fd, name: l.name, listenerIndex: li, snapshot: snapshot, configured: l.address)
                try w.loop.register(fd, h, events: EpollEvents.readable)
                w.listeners.append(h)
            }
            boundAddresses[l.name] = address
            listenerFDs[l.name] = fds
            logger.info(
                given.isEmpty ? "listening" : "listening (sockets handed over by the previous process)",
                metadata: ["listener": "\(l.name)", "address": "\(address)"])
        }
        for w in workers {
            let done = DispatchSemaphore(value: 0)
            finished.append(done)
            let loop = w.loop
            let thread = Thread {
                loop.run()
                done.signal()
            }
            thread.name = "sluice-worker-\(w.index)"
            thread.stackSize = 1 << 20
            thread.start()
        }
        started = true
        logger.info(
            "started", metadata: ["workers": "\(workers.count)", "config": "\(config.path)", "generation": "1"])
    }

    /// The address a listener is bound to (its real port when the config said port 0).
    public func address(ofListener name: String) -> SocketAddress? { boundAddresses[name] }

    /// Applies a new configuration without dropping requests: in-flight requests finish on the
    /// snapshot they started with, kept-alive connections pick up the new one at their next request.
    /// Listeners may differ: new ones are bound before anything changes, removed ones stop accepting and drain.
    /// Control thread. Throws when the new config cannot be applied; the old one keeps serving.
    public func reload(_ config: Config) throws(ReloadError) {
        let old = snapshot.config
        guard config.workers == old.workers else {
            throw ReloadError(message: "workers changed; this version applies that only on restart")
        }
        let tls: [TLSServerContext?]
        let upstream: [TLSClientContext?]
        do {
            tls = try Snapshot.loadTLS(config)
            upstream = try Snapshot.loadUpstreamTLS(config)
        } catch {
            throw ReloadError(message: error.message)
        }
        // Listeners on unchanged addresses keep their sockets (port 0: same name too); new ones
        // are bound now, before anything changes; removed ones stop accepting and drain.
        var keep: [ListenerPlan.Keep] = []
        var added: [(index: Int, listener: ListenerConfig)] = []
        for (i, l) in config.listeners.enumerated() {
            if let o = old.listeners.first(where: { $0.address == l.address && ($0.address.port != 0 || $0.name == l.name) }) {
                keep.append(.init(oldName: o.name, configured: o.address, index: i, name: l.name))
            } else {
                added.append((i, l))
            }
        }
        var fds: [[Int32]] = Array(repeating: [], count: workers.count)
        var bound: [String: SocketAddress] = [:]
        do {
            for (_, l) in added {
                var address = l.address
                for wi in workers.indices {
                    let fd: Int32
                    do {
                        fd = try Socket.listen(address, reusePort: true)
                    } catch {
                        throw ListenError(config: config, listener: l, error: error)
                    }
                    fds[wi].append(fd)
                    if address.port == 0 { address = try Socket.localAddress(fd) }
                }
                bound[l.name] = address
            }
        } catch {
            for list in fds { for fd in list { Socket.close(fd) } }
            throw ReloadError(message: "\(error)")
        }
        let rebased = rebaseRuntime(on: config)
        fileConfig = config
        runtimeWeights = [:]
        let snap = Snapshot(
            config: runtime.effective(config), generation: snapshot.generation + 1, registry: registry, tls: tls,
            upstream: upstream, previous: snapshot)
        snapshot = snap
        var addresses: [String: SocketAddress] = [:]
        for k in keep { if let a = boundAddresses[k.oldName] { addresses[k.name] = a } }
        for (name, a) in bound { addresses[name] = a }
        boundAddresses = addresses
        var sockets: [String: [Int32]] = [:]
        for k in keep { if let f = listenerFDs[k.oldName] { sockets[k.name] = f } }
        for (j, a) in added.enumerated() { sockets[a.listener.name] = fds.map { $0[j] } }
        listenerFDs = sockets
        for (wi, w) in workers.enumerated() {
            let plan = ListenerPlan(
                keep: keep,
                add: zip(added, fds[wi]).map { .init(fd: $1, index: $0.index, name: $0.listener.name, configured: $0.listener.address) })
            w.loop.execute {
                w.apply(snap)
                w.applyListeners(plan)
            }
        }
        for (_, l) in added { logger.info("listening", metadata: ["listener": "\(l.name)", "address": "\(bound[l.name]!)"]) }
        for l in old.listeners where !keep.contains(where: { $0.oldName == l.name }) {
            logger.info("listener removed: draining", metadata: ["listener": "\(l.name)"])
        }
        logger.info("reloaded", metadata: ["generation": "\(snap.generation)", "config": "\(config.path)"])
        for (cluster, changes) in rebased { applyMembership(changes, cluster: cluster) }
        undrainConfigured()
        syncDiscovery()
    }

    /// Builds a snapshot of `config` (a runtime change of the current configuration: same
    /// listeners and clusters) and hands it to every worker. Control thread.
    /// The TLS contexts loaded for the current configuration are reused, never reloaded from files.
    func publish(_ config: Config, generation: Int) {
        let snap = Snapshot(
            config: config, generation: generation, registry: registry, tls: snapshot.tlsContexts,
            upstream: snapshot.upstreamContexts, previous: snapshot)
        snapshot = snap
        for w in workers {
            w.loop.execute {
                w.apply(snap)
                w.listenersFollowSnapshot()
            }
        }
    }

    /// SIGHUP and `POST /reload`: read, validate, apply; an invalid file changes nothing.
    /// Returns the errors (empty on success). Control thread.
    @discardableResult
    public func reloadFromFile() -> [String] {
        guard let path = configPath else { return ["no configuration file to reload (built-in config)"] }
        var errors: [String] = []
        do {
            let cfg = try ConfigLoader.load(path: path)
            try reload(cfg)
        } catch let e as ConfigErrors {
            errors = e.errors.map(\.description)
        } catch {
            errors = ["\(error)"]
        }
        if errors.isEmpty {
            reloadSuccesses += 1
            lastReloadSuccess = Date()
            history.note(
                HistoryEvent(
                    t: Date().timeIntervalSince1970, kind: .reload, text: "reload applied: generation \(snapshot.generation)"))
        } else {
            reloadFailures += 1
            for e in errors { logger.error("reload failed: \(e)") }
            history.note(
                HistoryEvent(
                    t: Date().timeIntervalSince1970, kind: .reload,
                    text: "reload failed (\(errors.count) error\(errors.count == 1 ? "" : "s")): \(errors[0])"))
        }
        lastReload = (errors.isEmpty, Date(), errors)
        return errors
    }

    /// Reopens the access-log file (SIGUSR1, after logrotate).
    public func reopenAccessLog() {
        do {
            try shared.accessLog.reopen()
            logger.info("access log reopened")
        } catch {
            logger.error("access log reopen failed", metadata: ["error": "\(error)"])
        }
    }

    /// Stops accepting, lets in-flight requests finish for up to `timeout` nanoseconds, then stops.
    /// Idle kept-alive connections are closed at once, or once idle for `idleGrace` (an
    /// upgrade: their next request is answered with `Connection: close`).
    /// Blocks the calling (control) thread. Returns true when everything finished in time.
    @discardableResult
    public func shutdown(timeout: UInt64? = nil, idleGrace: UInt64 = 0) -> Bool {
        guard started else { return true }
        started = false
        let limit = timeout ?? snapshot.config.timeouts.drain
        let drained = DispatchGroup()
        for w in workers {
            drained.enter()
            w.loop.execute {
                var once = false
                w.beginDrain(idleGrace: idleGrace) {
                    if !once {
                        once = true
                        drained.leave()
                    }
                }
            }
        }
        let clean = drained.wait(timeout: .now() + .nanoseconds(Int(min(limit, UInt64(Int.max))))) == .success
        if !clean {
            // Requests still running get an answer where none started (503) and a log line.
            let abandoned = DispatchGroup()
            for w in workers {
                abandoned.enter()
                w.loop.execute {
                    w.abandonInFlight()
                    abandoned.leave()
                }
            }
            _ = abandoned.wait(timeout: .now() + 1)
        }
        for w in workers { w.loop.stop() }
        for f in finished { f.wait() }
        for w in workers { w.accessLog.flush() }
        logger.info("stopped", metadata: ["clean": "\(clean)"])
        return clean
    }
}

/// A valid configuration that cannot be applied to the running process.
public struct ReloadError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// A listener that cannot be bound: `FILE:LINE: listener NAME: cannot listen on ADDRESS: cause`.
public struct ListenError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }

    init(config: Config, listener: ListenerConfig, error: SystemError) {
        message = "\(config.path):\(listener.line): listener \(listener.name): cannot listen on \(listener.listenText): \(error)"
    }
}

/// How a reload changes one worker's listening sockets.
struct ListenerPlan: @unchecked Sendable {
    struct Keep {
        let oldName: String
        let configured: SocketAddress
        let index: Int
        let name: String
    }
    struct Add {
        let fd: Int32
        let index: Int
        let name: String
        let configured: SocketAddress
    }
    let keep: [Keep]
    let add: [Add]
}
