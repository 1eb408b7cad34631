import SluiceConfig
import Testing

@testable import SluiceBenchKit

/// The issue-9 hot-page case: its plan, the cache parts of each target's config, how hits
/// are told apart, and the per-5-second backend figures.
@Suite struct HotPageCaseTests {
    let backends = ["127.0.0.1:9001", "127.0.0.1:9002"]

    @Test func planOffersTenTimesCapacityOverTwentyURLsAndStopsTheBackendsForThirtySeconds() {
        let plan = CasePlan.make(.hotPage)
        #expect(plan.phases.map(\.name) == ["warmup", "hot", "backends-down", "backends-back"])
        #expect(plan.phases.map(\.seconds) == [2, 30, 30, 10])
        #expect(plan.totalSeconds == 72)
        #expect(plan.streams.count == 20)
        #expect(Set(plan.streams.map(\.path)).count == 20)
        #expect(plan.groups == ["all"])
        for s in 0..<plan.totalSeconds { #expect(plan.totalRate(second: s) == 8000) }
        #expect(
            plan.changes == [
                BackendChange(atSecond: 32, serviceTimeMillis: 20, running: false),
                BackendChange(atSecond: 62, serviceTimeMillis: 20, running: true),
            ])
        // The service time never changes: only the backends' presence does.
        #expect(plan.serviceTimeMillis(atSecond: 40) == 20)
        let c = plan.cache
        #expect(c == CacheSettings(urls: 20, maxAge: 5, staleWhileRevalidate: 5, staleIfError: 60))
        #expect(!plan.phases.contains { $0.isSpike })
    }

    @Test func durationScalesThePhasesAndTheRateFollowsTheCapacity() {
        var p = CaseParameters()
        p.durationSeconds = 30
        p.serviceTimeMillis = 40
        p.connections = 10
        let plan = CasePlan.make(.hotPage, p)
        #expect(plan.phases.map(\.seconds) == [2, 12, 12, 4])
        #expect(plan.totalRate(second: 0) == 4000)
        #expect(plan.streams.allSatisfy { $0.connections == 4 })
        #expect(plan.changes.map(\.atSecond) == [14, 26])
        #expect(plan.cache?.staleIfError == 42)
    }

    @Test func sluiceConfigCachesTheProductsRouteWithStaleServing() {
        let text = CaseConfigs.sluice(CaseConfigs.Input(plan: CasePlan.make(.hotPage)), port: 8080, backends: backends, workers: 1)
        #expect(
            text.contains(
                "- { match: { path_prefix: /products/ }, cluster: app, cache: { default_ttl: 0s, max_ttl: 1h, "
                    + "stale_while_revalidate: 5s, stale_if_error: 60s, stale_if_overloaded: 60s, coalesce: true } }"))
        #expect(text.contains("\ncache: { max_size: 64MiB, max_object: 1MiB }\n"))
        let flash = CaseConfigs.sluice(CaseConfigs.Input(plan: CasePlan.make(.flashSale)), port: 8080, backends: backends, workers: 1)
        #expect(!flash.contains("cache"))
    }

    @Test func sluiceConfigDecodesWithTheCacheKeys() throws {
        let text = CaseConfigs.sluice(CaseConfigs.Input(plan: CasePlan.make(.hotPage)), port: 8080, backends: backends, workers: 1)
        let cfg = try ConfigLoader.parse(text, file: "hot-page.yaml")
        #expect(cfg.cache.maxSize == 64 * 1024 * 1024)
        #expect(cfg.cache.maxObject == 1024 * 1024)
        let routes = cfg.listeners[0].routes
        #expect(routes.map(\.pathPrefix) == ["/products/", "/"])
        let c = try #require(routes[0].cache)
        #expect(c.defaultTTL == 0)
        #expect(c.staleWhileRevalidate == 5_000_000_000)
        #expect(c.staleIfError == 60_000_000_000)
        #expect(c.staleIfOverloaded == 60_000_000_000)
        #expect(c.coalesce)
        #expect(routes[1].cache == nil)
    }

    @Test func nginxGetsProxyCacheWithLockStaleBackgroundUpdateAndNoRequestLimit() {
        let text = CaseConfigs.nginx(
            CaseConfigs.Input(plan: CasePlan.make(.hotPage)), port: 8080, backends: backends, workers: 1, workDir: "/tmp/w")
        for line in [
            "proxy_cache_path /tmp/w/nginx-cache levels=1:2 keys_zone=hot:10m max_size=64m inactive=600s use_temp_path=off;",
            "proxy_cache hot;", "proxy_cache_lock on;",
            "proxy_cache_use_stale updating error timeout http_500 http_502 http_503 http_504;",
            "proxy_cache_background_update on;", "proxy_cache_revalidate on;",
            "add_header X-Cache-Status $upstream_cache_status always;", "server 127.0.0.1:9001 max_conns=8;",
        ] {
            #expect(text.contains(line), "missing: \(line)")
        }
        #expect(!text.contains("limit_req"))
    }

    @Test func haproxyGetsACacheSectionAndMarksItsHits() {
        let text = CaseConfigs.haproxy(CaseConfigs.Input(plan: CasePlan.make(.hotPage)), port: 8080, backends: backends, workers: 1)
        #expect(text.contains("cache hot\n    total-max-size 64\n    max-object-size 1048576\n    max-age 60\n"))
        #expect(text.contains("    http-request cache-use hot\n    http-response cache-store hot\n"))
        #expect(text.contains("set-header X-Cache-Status HIT if { res.cache_hit }"))
        #expect(
            !CaseConfigs.haproxy(CaseConfigs.Input(plan: CasePlan.make(.mix)), port: 8080, backends: backends, workers: 1)
                .contains("cache"))
    }

    func hit(_ name: String, _ value: String) -> Bool? {
        CacheStatus.isHit(name: Array(name.utf8), value: Array(value.utf8))
    }

    @Test func cacheStatusFieldsTellHitsFromForwardedAnswers() {
        #expect(hit("Cache-Status", "sluice; hit") == true)
        #expect(hit("cache-status", "sluice; hit; ttl=-3") == true)
        #expect(hit("Cache-Status", "sluice; fwd=miss; stored") == false)
        #expect(hit("Cache-Status", "sluice; fwd=stale; fwd-status=304") == false)
        // The last member is the cache nearest the client.
        #expect(hit("Cache-Status", "origin; hit, sluice; fwd=miss") == false)
        for v in ["HIT", "STALE", "UPDATING", " hit "] { #expect(hit("X-Cache-Status", v) == true) }
        for v in ["MISS", "EXPIRED", "REVALIDATED", "BYPASS", ""] { #expect(hit("X-Cache-Status", v) == false) }
        #expect(hit("Cache-Control", "max-age=5") == nil)
        #expect(hit("X-Cache", "HIT") == nil)
    }

    @Test func backendRequestsAreSummedPerFiveSecondsFromThePhaseStart() {
        let counts = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
        #expect(CaseSummary.per5s(counts, range: 0..<10) == [15, 40])
        #expect(CaseSummary.per5s(counts, range: 2..<14) == [25, 50, 0])
        #expect(CaseSummary.per5s(counts, range: 3..<3).isEmpty)
    }

    @Test func phaseFiguresCountHitsErrorsAndBackendWindows() {
        var w = Window()
        for i in 0..<8 {
            w.byClass[1] += 1
            _ = w.latency.record(UInt64(1000 + i))
            w.record(.success, retryAfter: nil, latencyMicros: UInt64(1000 + i), hit: i < 6)
        }
        w.byClass[4] += 1
        _ = w.latency.record(40_000)
        w.record(.r503Bare, retryAfter: nil, latencyMicros: 40_000)
        w.record(.connectionError, retryAfter: nil, latencyMicros: nil)
        let backend = [20, 0, 0, 0, 0, 18, 0, 0, 0, 0, 3]
        let notModified = [0, 0, 0, 0, 0, 18, 0, 0, 0, 0, 3]
        let f = CaseSummary.cacheFigures(w, range: 0..<11, backendRequests: backend, notModified: notModified)
        #expect(f.hits == 6)
        #expect(f.hitShare == 6.0 / 9.0)
        #expect(f.hitP99 < 1.1 && f.hitP50 >= 1.0)
        #expect(f.allP99 >= 39.9)
        #expect(f.errors == 2)
        #expect(f.backendRequests == 41 && f.notModified == 21)
        #expect(f.backendPer5sMax == 20 && f.notModifiedPer5sMax == 18)
        #expect(f.backendPer5sMean == 41.0 / 3.0)
    }
}
