import SluiceEventLoop
import SluiceSystem

/// Sluice's stub resolver: `lookup` (A + AAAA) and `srv` answers for discovery, over UDP.
///
/// Used on one `EventLoop`'s thread only (the control loop); never blocks. Each question is a
/// `DNSQuery` (one connected UDP socket and random id per resolver try, `timeout` per try,
/// resolvers in order, each once). Names are used as written with a trailing dot: no search
/// domains, no /etc/hosts, no cache. `done` always runs later on the loop, never inside the
/// call, and exactly once.
package final class DNSClient {
    package let loop: EventLoop
    package let resolvers: [SocketAddress]
    /// Per try of one resolver, nanoseconds.
    package let timeout: UInt64
    private var active: [ObjectIdentifier: DNSQuery] = [:]
    private var droppedTotal = 0

    package init(loop: EventLoop, resolvers: [SocketAddress], timeout: UInt64 = 1_000_000_000) {
        self.loop = loop
        self.resolvers = resolvers
        self.timeout = timeout
    }

    /// Questions in flight (each holds one socket and one timer while it waits).
    package var activeQueries: Int { active.count }

    /// Datagrams dropped so far because they were not the reply to their query.
    package var droppedReplies: Int { droppedTotal + active.values.reduce(0) { $0 + $1.dropped } }

    /// The A and AAAA records of `host` (asked in parallel) as backends `ip:port`, named by
    /// their address, weight 1, primary, sorted by name. `ttl` is the smallest TTL used.
    /// Either question failing (every resolver timing out, an rcode other than NOERROR, a
    /// truncated reply) fails the lookup; so does no address of either type.
    package func lookup(host: String, port: Int, _ done: @escaping (Result<DiscoveryAnswer, DiscoveryError>) -> Void) {
        guard (1...65535).contains(port) else {
            return later(done, .failure(DiscoveryError("lookup of \(host): port \(port) is not 1-65535")))
        }
        loop.after(0) { [self] in
            _ = addresses(of: host) { result in
                done(result.flatMap { a, aaaa, from in DNSAnswers.lookupAnswer(host: host, port: port, a: a, aaaa: aaaa, from: from) })
            }
        }
    }

    /// The SRV records of `name`: the lowest priority as primary backends, the next distinct
    /// priority as standby, each `target:port` at the target's lowest sorted address (from the
    /// reply's additional section, else A/AAAA questions for it) with the record's weight (0
    /// counts as 1). A target without an address fails the whole answer.
    package func srv(_ name: String, _ done: @escaping (Result<DiscoveryAnswer, DiscoveryError>) -> Void) {
        loop.after(0) { [self] in
            let canonical: String
            do {
                canonical = try DNSMessage.canonicalName(name)
            } catch {
                return done(.failure(DiscoveryError("SRV query for \(DNSAnswers.dotted(name)): \(error)")))
            }
            ask(name, .srv) { [self] result in
                switch result {
                case .failure(let e):
                    done(.failure(e))
                case .success(let answer):
                    let label = "SRV query for \(DNSAnswers.dotted(name))"
                    switch DNSAnswers.srvTargets(name: canonical, reply: answer.reply, label: label) {
                    case .failure(let e): done(.failure(DiscoveryError("\(e.message) (resolver \(answer.resolver))")))
                    case .success(let (targets, ttl)): resolveTargets(targets, reply: answer.reply, ttl: ttl, label: label, done)
                    }
                }
            }
        }
    }

    /// Finds every target's addresses (in the reply, else by asking), then builds the answer.
    private func resolveTargets(
        _ targets: [DNSAnswers.SRVTarget], reply: DNSReply, ttl: UInt32?, label: String,
        _ done: @escaping (Result<DiscoveryAnswer, DiscoveryError>) -> Void
    ) {
        var known: [String: DNSAnswers.Addresses] = [:]
        var missing: [String] = []
        for t in targets where known[t.target] == nil && !missing.contains(t.target) {
            let found = DNSAnswers.includedAddresses(of: t.target, in: reply, label: label)
            if found.bytes.isEmpty { missing.append(t.target) } else { known[t.target] = found }
        }
        guard !missing.isEmpty else { return done(DNSAnswers.srvAnswer(targets, addresses: known, ttl: ttl)) }
        let group = LookupGroup(client: self)
        for target in missing where !group.finished {
            group.pending += 1
            let handle = addresses(of: target) { [group] result in
                guard !group.finished else { return }
                switch result {
                case .failure(let e):
                    group.finish()
                    done(.failure(DiscoveryError("\(label): SRV target \(target) does not resolve: \(e.message)")))
                case .success(let (a, aaaa, from)):
                    var both = a
                    both.bytes += aaaa.bytes
                    both.ttl = [a.ttl, aaaa.ttl].compactMap { $0 }.min()
                    known[target] = both
                    group.pending -= 1
                    if both.bytes.isEmpty {
                        group.finish()
                        return done(
                            .failure(DiscoveryError("\(label): SRV target \(target) has no A or AAAA record (\(from))")))
                    }
                    if group.pending == 0 {
                        group.finished = true
                        done(DNSAnswers.srvAnswer(targets, addresses: known, ttl: ttl))
                    }
                }
            }
            group.handles.append(handle)
        }
    }

    /// Asks A and AAAA for `host` in parallel; the first failure ends both.
    private func addresses(
        of host: String,
        _ done: @escaping (Result<(DNSAnswers.Addresses, DNSAnswers.Addresses, String), DiscoveryError>) -> Void
    ) -> LookupGroup {
        let group = LookupGroup(client: self)
        let canonical: String
        do {
            canonical = try DNSMessage.canonicalName(host)
        } catch {
            group.finished = true
            done(.failure(DiscoveryError("A/AAAA query for \(DNSAnswers.dotted(host)): \(error)")))
            return group
        }
        var results: [DNSType: DNSAnswers.Addresses] = [:]
        var from: [String] = []
        for type in [DNSType.a, .aaaa] where !group.finished {
            group.pending += 1
            let q = ask(host, type) { [group] result in
                guard !group.finished else { return }
                let found = result.flatMap { answer in
                    let text = "resolver \(answer.resolver)"
                    if !from.contains(text) { from.append(text) }
                    return DNSAnswers.addresses(
                        of: canonical, type: type, in: answer.reply.answers, label: "\(type) query for \(canonical) (\(text))")
                }
                switch found {
                case .failure(let e):
                    group.finish()
                    done(.failure(e))
                case .success(let addrs):
                    results[type] = addrs
                    group.pending -= 1
                    if group.pending == 0 {
                        group.finished = true
                        done(.success((results[.a] ?? .init(), results[.aaaa] ?? .init(), from.joined(separator: ", "))))
                    }
                }
            }
            if let q { group.queries.append(q) }
        }
        return group
    }

    /// Starts one question; nil when it ended at once (its `done` already ran).
    @discardableResult
    private func ask(_ name: String, _ type: DNSType, _ done: @escaping (Result<DNSQuery.Answer, DiscoveryError>) -> Void)
        -> DNSQuery?
    {
        var query: DNSQuery!
        query = DNSQuery(loop: loop, name: name, type: type, resolvers: resolvers, timeout: timeout) { [self] result in
            if let q = query {
                droppedTotal += q.dropped
                active[ObjectIdentifier(q)] = nil
            }
            query = nil
            done(result)
        }
        let q = query!
        active[ObjectIdentifier(q)] = q
        q.start()
        return q.isActive ? q : nil
    }

    /// Cancels one question (no `done`).
    fileprivate func cancel(_ q: DNSQuery) {
        guard active.removeValue(forKey: ObjectIdentifier(q)) != nil else { return }
        droppedTotal += q.dropped
        q.cancel()
    }

    private func later<T>(_ done: @escaping (T) -> Void, _ value: T) {
        loop.after(0) { done(value) }
    }

    /// Questions (and nested groups) that answer together: the first failure cancels the rest.
    private final class LookupGroup {
        var pending = 0
        var finished = false
        var queries: [DNSQuery] = []
        var handles: [LookupGroup] = []
        weak var client: DNSClient?

        init(client: DNSClient) { self.client = client }

        func finish() {
            finished = true
            for q in queries { client?.cancel(q) }
            for h in handles { h.finish() }
            queries = []
            handles = []
        }
    }
}
