import SluiceConfig
import Testing

@testable import SluiceBenchKit

/// The configs the bench writes for each case: Sluice's must pass its own decoder with the
/// issue-8 keys; HAProxy's and nginx's must carry their closest equivalents.
@Suite struct CaseConfigTests {
    let backends = ["127.0.0.1:9001", "127.0.0.1:9002"]

    func sluice(_ c: BenchCase) throws -> Config {
        try ConfigLoader.parse(
            CaseConfigs.sluice(CaseConfigs.Input(plan: CasePlan.make(c)), port: 8080, backends: backends, workers: 2), file: "\(c).yaml")
    }

    @Test func sluiceConfigOfEveryCaseDecodes() throws {
        for c in BenchCase.allCases {
            let cfg = try sluice(c)
            #expect(cfg.clusters.count == 1)
            #expect(cfg.clusters[0].backends.count == 2)
            #expect(cfg.clusters[0].limits?.maxRequestsPerBackend == 8)
        }
    }

    @Test func sluiceMixRoutesCheckoutCriticalAndBrowsingSheddable() throws {
        let routes = try sluice(.mix).listeners[0].routes
        #expect(routes.map(\.pathPrefix) == ["/checkout/", "/products/", "/"])
        #expect(routes.map(\.priority) == [.critical, .sheddable, .normal])
    }

    @Test func sluiceAbuserRouteLimitsEachClientByItsHeader() throws {
        let routes = try sluice(.abuser).listeners[0].routes
        #expect(routes[0].rateLimit == RateLimitConfig(key: .header("x-client-id"), rate: 80, burst: 20))
    }

    @Test func sluiceSlowdownIsAdaptiveAndTheOthersAreNot() throws {
        #expect(try sluice(.slowdown).clusters[0].limits?.adaptive == true)
        #expect(try sluice(.flashSale).clusters[0].limits?.adaptive == false)
    }

    @Test func haproxyGetsMaxconnQueuePriorityClassesAndAStickTable() {
        let flash = CaseConfigs.haproxy(CaseConfigs.Input(plan: CasePlan.make(.flashSale)), port: 8080, backends: backends, workers: 1)
        #expect(flash.contains("server b1 127.0.0.1:9001 maxconn 8"))
        #expect(flash.contains("timeout queue 1s"))
        #expect(!flash.contains("set-priority-class"))
        let mix = CaseConfigs.haproxy(CaseConfigs.Input(plan: CasePlan.make(.mix)), port: 8080, backends: backends, workers: 1)
        #expect(mix.contains("http-request set-priority-class int(-10) if { path_beg /checkout/ }"))
        let abuse = CaseConfigs.haproxy(CaseConfigs.Input(plan: CasePlan.make(.abuser)), port: 8080, backends: backends, workers: 1)
        #expect(abuse.contains("http-request track-sc0 req.hdr(X-Client-Id)"))
        #expect(abuse.contains("deny_status 429 hdr Retry-After 1 if { sc_http_req_rate(0) gt 80 }"))
    }

    @Test func nginxGetsMaxConnsLimitReqAndAPerClientZone() {
        let flash = CaseConfigs.nginx(
            CaseConfigs.Input(plan: CasePlan.make(.flashSale)), port: 8080, backends: backends, workers: 1, workDir: "/tmp/w")
        #expect(flash.contains("server 127.0.0.1:9001 max_conns=8;"))
        #expect(flash.contains("zone=capacity:1m rate=800r/s"))
        #expect(flash.contains("limit_req_status 503;"))
        #expect(flash.contains("add_header Retry-After 1 always"))
        let mix = CaseConfigs.nginx(
            CaseConfigs.Input(plan: CasePlan.make(.mix)), port: 8080, backends: backends, workers: 1, workDir: "/tmp/w")
        #expect(mix.contains("location /checkout/ {"))
        #expect(mix.contains("rate=720r/s"))
        let abuse = CaseConfigs.nginx(
            CaseConfigs.Input(plan: CasePlan.make(.abuser)), port: 8080, backends: backends, workers: 1, workDir: "/tmp/w")
        #expect(abuse.contains("limit_req_zone $http_x_client_id zone=perclient:10m rate=80r/s;"))
        #expect(abuse.contains("limit_req_status 429;"))
    }
}

/// The classic spike scenario keeps the configs §2 of benchmarks.md describes.
@Suite struct ClassicConfigTests {
    @Test func classicScenarioGetsPlainLimitsAndNoCaseExtras() throws {
        let input = CaseConfigs.Input(scenario: Scenario())
        #expect(input.perBackend == 8)
        let backends = ["127.0.0.1:9001"]
        let cfg = try ConfigLoader.parse(CaseConfigs.sluice(input, port: 8080, backends: backends, workers: 1), file: "s.yaml")
        #expect(cfg.listeners[0].routes.count == 1)
        #expect(cfg.clusters[0].limits?.maxRequestsPerBackend == 8)
        let h = CaseConfigs.haproxy(input, port: 8080, backends: backends, workers: 1)
        #expect(h.contains("maxconn 8") && !h.contains("Retry-After") && !h.contains("stick-table"))
        let n = CaseConfigs.nginx(input, port: 8080, backends: backends, workers: 1, workDir: "/tmp/w")
        #expect(n.contains("max_conns=8;") && !n.contains("limit_req") && !n.contains("error_page"))
        var real = Scenario()
        real.upstreams = ["127.0.0.1:9001"]
        #expect(CaseConfigs.Input(scenario: real).perBackend == 1000)
    }
}
