import Foundation

/// `GET /readyz` (DESIGN §3 "High availability of Sluice itself"): 503 until every cluster
/// has had its first round of health checks (and its discovery source its first answer),
/// 200 from then on, 503 again from the moment a shutdown or upgrade begins, before any
/// listener stops, so that keepalived or an outer balancer moves traffic first.
extension ProxyServer {
    enum Readiness: Equatable {
        case ready
        /// Still waiting: what for, in words.
        case starting(String)
        case stopping
    }

    /// Control thread. Once ready, it stays ready until `beginStopping`.
    func readiness() -> Readiness {
        if stopping { return .stopping }
        if readySince != nil { return .ready }
        var total = 0
        var unchecked = 0
        for c in snapshot.clusters where c.healthChecked {
            for b in c.backends {
                total += 1
                if b.health.passes.load(ordering: .relaxed) + b.health.failures.load(ordering: .relaxed) == 0 { unchecked += 1 }
            }
        }
        let unanswered = fileConfig.clusters.filter { $0.discovery != nil && runtime.status[$0.name]?.lastResult == nil }.map(\.name)
        guard unchecked == 0 && unanswered.isEmpty else {
            var why: [String] = []
            if unchecked > 0 { why.append("\(unchecked) of \(total) backends not checked yet") }
            if !unanswered.isEmpty { why.append("no discovery answer yet for \(unanswered.joined(separator: ", "))") }
            return .starting(why.joined(separator: "; "))
        }
        readySince = Date()
        logger.notice("ready: every cluster has had its first health checks")
        return .ready
    }

    /// A shutdown (or upgrade) begins: `/readyz` answers 503 from now on.
    func beginStopping() {
        guard !stopping else { return }
        stopping = true
        logger.notice("not ready: stopping")
    }
}
