import Foundation
import Logging
import SluiceBalancing
import SluiceSystem

extension ProxyServer {
    /// One second of history: a sample of every worker's counters and the health table,
    /// recorded as points, events logged (traffic-state changes at notice, once per change).
    /// Returns the events found. Control thread, once a second (`ControlLoop`).
    @discardableResult
    func tickHistory(_ s: MetricsSample) -> [HistoryEvent] {
        let events = history.record(
            s, wall: s.now.timeIntervalSince1970, monotonic: Double(Clock.monotonicNanos()) / 1e9)
        for e in events {
            var meta: Logger.Metadata = ["kind": "\(e.kind.rawValue)"]
            if let c = e.cluster { meta["cluster"] = "\(c)" }
            if let b = e.backend { meta["backend"] = "\(b)" }
            switch e.kind {
            case .traffic: logger.notice("\(e.text)", metadata: meta)
            case .shedding, .failover: logger.warning("\(e.text)", metadata: meta)
            case .health, .ejection, .reload, .discovery: logger.info("\(e.text)", metadata: meta)
            }
        }
        return events
    }

    /// The JSON POSTed to `admin.alert_webhook` for a traffic-state change.
    func webhookJSON(_ e: HistoryEvent) -> String? {
        guard e.kind == .traffic, let name = e.cluster, let c = history.cluster(name) else { return nil }
        let d = c.detector
        func num(_ x: Double?) -> String {
            guard let x, x.isFinite else { return "null" }
            return String((x * 10).rounded() / 10)
        }
        let time = ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: e.t))
        return "{\"cluster\": \(HistoryDocument.string(name)), \"from\": \"\(e.from ?? "")\", \"to\": \"\(e.to ?? d.state.rawValue)\""
            + ", \"rate_10s\": \(num(d.fastRate)), \"rate_10m\": \(num(d.slowRate)), \"eta_seconds\": \(num(d.etaSeconds))"
            + ", \"capacity\": \(num(c.capacity)), \"time\": \"\(time)\", \"text\": \(HistoryDocument.string(e.text))}"
    }
}
