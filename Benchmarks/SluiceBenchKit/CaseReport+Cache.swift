/// The cache case's side-by-side table and description. Pure formatting; any thread.
extension CaseReport {
    /// What a target's cache cannot do, said in its row.
    static func cacheCaveat(_ target: String) -> String {
        target == TargetKind.haproxy.rawValue ? " (no stale serving, no coalescing)" : ""
    }

    static func describe(_ c: CacheSettings, _ plan: CasePlan) -> String {
        var out = "- cache: \(c.urls) URLs, backends answer `Cache-Control: max-age=\(c.maxAge)` with an ETag and a Last-Modified "
        out += "(304 to a matching If-None-Match / If-Modified-Since); sluice `stale_while_revalidate: \(c.staleWhileRevalidate)s`, "
        out += "`stale_if_error: \(c.staleIfError)s`, `coalesce: true`\n"
        for ch in plan.changes {
            if let running = ch.running {
                out +=
                    "- at \(ch.atSecond) s the bench \(running ? "starts its backends again" : "stops its backends (refused connections)")\n"
            }
        }
        out += "- hits: `Cache-Status` with `hit` (sluice), `X-Cache-Status` HIT / STALE / UPDATING (nginx; HAProxy: HIT)\n"
        return out
    }

    /// Per phase (warm-up left out) and target: the load, the errors, what reached the
    /// backends per 5 s, the hits, and the latency of all answers and of the hits.
    public static func cacheTable(_ r: CaseResult) -> String {
        let f = Report.f
        var out = "### Side by side\n\n"
        out += "| phase | target | offered/s | goodput/s | errors | hits | backend req per 5 s: max (mean) | 304 per 5 s: max "
        out += "| all p50 / p99 ms | hits p50 / p99 ms |\n|---|---|---|---|---|---|---|---|---|---|\n"
        for phase in r.plan.phases where phase.name != "warmup" {
            for t in r.results where t.skipped == nil {
                guard let p = t.phases.first(where: { $0.phase == phase.name }), let c = p.cache else { continue }
                out += "| \(phase.name) | \(t.target)\(cacheCaveat(t.target)) | \(f(p.offeredPerSecond, 0)) | \(f(p.goodputPerSecond, 0)) "
                out += "| \(c.errors) | \(f(c.hitShare * 100, 1))% | \(c.backendPer5sMax) (\(f(c.backendPer5sMean, 1))) "
                out += "| \(c.notModifiedPer5sMax) | \(f(c.allP50, 2)) / \(f(c.allP99, 2)) | \(f(c.hitP50, 2)) / \(f(c.hitP99, 2)) |\n"
            }
        }
        return out + "\n"
    }
}
