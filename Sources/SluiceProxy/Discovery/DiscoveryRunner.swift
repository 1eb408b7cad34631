import Logging
import SluiceConfig
import SluiceDiscovery
import SluiceEventLoop
import SluiceSystem

/// One cluster's `discovery` on the control loop: asks its source, hands the answer to the
/// server, and schedules the next refresh (DNS: the answer's TTL within [1 s, refresh]; a
/// file: checked every second, read when it changed or every `refresh`). Control thread.
final class DiscoveryRunner {
    let cluster: String
    let config: DiscoveryConfig
    let source: BackendSource
    unowned let server: ProxyServer
    let loop: EventLoop
    private var dns: DNSClient?
    private var file: FileSource?
    private var stopped = false
    private var answered = false

    init(cluster: String, config: DiscoveryConfig, server: ProxyServer, loop: EventLoop) {
        self.cluster = cluster
        self.config = config
        self.server = server
        self.loop = loop
        source = BackendSource(config)
        switch config.source {
        case .dns, .srv:
            let resolvers = config.resolvers ?? ResolvConf.system()
            if !resolvers.isEmpty { dns = DNSClient(loop: loop, resolvers: resolvers) }
        case .file(let path):
            file = FileSource(path: path, refresh: config.refresh)
        }
    }

    func start() { refresh() }

    /// Answers still under way are dropped when they arrive.
    func stop() { stopped = true }

    private func refresh() {
        guard !stopped else { return }
        switch config.source {
        case .dns(let host, let port):
            guard let dns else { return finish(.failure(Self.noResolvers)) }
            dns.lookup(host: host, port: port) { [weak self] in self?.finish($0) }
        case .srv(let name):
            guard let dns else { return finish(.failure(Self.noResolvers)) }
            dns.srv(name) { [weak self] in self?.finish($0) }
        case .file:
            guard let file else { return }
            if case .read(let result) = file.poll(now: Clock.monotonicNanos()) {
                server.discovered(result, cluster: cluster, source: source)
            }
            loop.after(1_000_000_000) { [weak self] in self?.refresh() }
        }
    }

    static let noResolvers = DiscoveryError("no DNS server to ask: set discovery.resolvers, or add nameserver lines to /etc/resolv.conf")

    private func finish(_ result: Result<DiscoveryAnswer, DiscoveryError>) {
        guard !stopped else { return }
        server.discovered(result, cluster: cluster, source: source)
        var next = config.refresh
        switch result {
        case .success(let a):
            answered = true
            if let ttl = a.ttl { next = min(max(ttl, 1_000_000_000), config.refresh) }
        case .failure:
            // Until the first good answer, ask every second; then at the normal rate (a dead
            // server is not hammered, and the last known set keeps serving meanwhile).
            if !answered { next = 1_000_000_000 }
        }
        loop.after(next) { [weak self] in self?.refresh() }
    }
}

extension ProxyServer {
    /// Starts discovery on the control loop (once, from `ControlLoop.run`).
    func startDiscovery(on loop: EventLoop) {
        discoveryLoop = loop
        syncDiscovery()
    }

    func stopDiscovery() {
        for r in runners.values { r.stop() }
        runners = [:]
    }

    /// One runner per cluster with `discovery`, restarted when its block changed. Control thread.
    func syncDiscovery() {
        guard let loop = discoveryLoop else { return }
        var next: [String: DiscoveryRunner] = [:]
        for c in fileConfig.clusters {
            guard let d = c.discovery else { continue }
            if let r = runners[c.name], r.config == d {
                next[c.name] = r
                runners[c.name] = nil
                continue
            }
            let r = DiscoveryRunner(cluster: c.name, config: d, server: self, loop: loop)
            if runtime.status[c.name]?.source != r.source {
                // A new or changed source: the counters carry over (a counter never goes back).
                var st = DiscoveryStatus(source: r.source)
                st.successes = runtime.status[c.name]?.successes ?? 0
                st.errors = runtime.status[c.name]?.errors ?? 0
                runtime.status[c.name] = st
            }
            next[c.name] = r
            r.start()
        }
        for r in runners.values { r.stop() }
        runners = next
    }
}
