/// The issue-9 case: a hot page behind a shared cache. Pure; any thread.
extension CasePlan {
    /// Distinct product URLs of the hot-page load.
    public static let hotPageURLs = 20
    /// Seconds per target by default: warm-up 2, hot 30, backends down 30, back 10.
    public static let hotPageDefaultSeconds = 72

    /// 10x the backends' capacity, spread evenly over 20 product URLs whose answers carry
    /// `Cache-Control: max-age=5`, throughout. After the warm-up: "hot" (backends up), then
    /// "backends-down" (the bench stops its backends: refused connections) and
    /// "backends-back" (started again on the same ports), in the proportion 3 : 3 : 1 of
    /// `durationSeconds` (default 72 s: 30, 30, 10). `stale_if_error` covers the outage
    /// with 30 s to spare; the outage phase is not a spike (nothing is shed there).
    public static func hotPage(_ p: CaseParameters) -> CasePlan {
        let rest = max(7, (p.durationSeconds ?? hotPageDefaultSeconds) - p.warmupSeconds)
        let hot = rest * 3 / 7
        let down = rest * 3 / 7
        let phases = [
            CasePhase(name: "warmup", seconds: p.warmupSeconds), CasePhase(name: "hot", seconds: hot),
            CasePhase(name: "backends-down", seconds: down), CasePhase(name: "backends-back", seconds: rest - hot - down),
        ]
        let urls = hotPageURLs
        let total = 10 * p.capacity
        let streams = (0..<urls).map { i in
            // The remainder of total / urls goes to the first URLs: the sum is exactly 10x.
            let r = total / urls + (i < total % urls ? 1 : 0)
            return LoadStream(
                group: "all", path: "/products/hot-\(i + 1)", connections: max(4, p.connections / urls),
                rates: Array(repeating: r, count: phases.count))
        }
        var plan = CasePlan(benchCase: .hotPage, parameters: p, phases: phases, streams: streams)
        let downAt = p.warmupSeconds + hot
        plan.changes = [
            BackendChange(atSecond: downAt, serviceTimeMillis: p.serviceTimeMillis, running: false),
            BackendChange(atSecond: downAt + down, serviceTimeMillis: p.serviceTimeMillis, running: true),
        ]
        plan.cache = CacheSettings(urls: urls, maxAge: 5, staleWhileRevalidate: 5, staleIfError: down + 30)
        return plan
    }
}
