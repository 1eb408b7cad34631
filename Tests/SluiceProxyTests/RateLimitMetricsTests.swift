import Foundation
import Testing

@testable import SluiceProxy

/// `rate_limited_total{listener,cluster}`: counted by index, carried by name, rendered.
@Suite struct RateLimitMetricsTests {
    typealias Pair = MetricTotals.ListenerCluster

    @Test func refusalsCountByIndexAndSurviveAReloadThatReordersNames() {
        var m = WorkerMetrics()
        m.reshape(listeners: ["web", "api"], clusters: ["app", "static"], backendCount: 1)
        m.countRateLimited(listener: 0, cluster: 1)
        m.countRateLimited(listener: 0, cluster: 1)
        m.countRateLimited(listener: 1, cluster: 0)
        m.countRateLimited(listener: 2, cluster: 0)  // outside the shape: nothing
        #expect(m.totals().rateLimited == [Pair(listener: "web", cluster: "static"): 2, Pair(listener: "api", cluster: "app"): 1])
        m.reshape(listeners: ["api", "web"], clusters: ["static", "app"], backendCount: 1)
        m.countRateLimited(listener: 1, cluster: 0)  // web → static
        m.countRetiredRateLimited(listener: "old", cluster: "app")
        #expect(
            m.totals().rateLimited == [
                Pair(listener: "web", cluster: "static"): 3, Pair(listener: "api", cluster: "app"): 1,
                Pair(listener: "old", cluster: "app"): 1,
            ])
        var folded = m.totals()
        folded.add(m.totals())
        #expect(folded.rateLimited[Pair(listener: "web", cluster: "static")] == 6)
    }

    @Test func theFamilyShowsLimitedRoutesAtZeroAndOnlyWhenThereAreAny() {
        var s = PrometheusTextTests.sample()
        #expect(!PrometheusText.render(s).contains("rate_limited"))
        s.listeners[0].rateLimitedClusters = ["app"]
        s.listeners[1].rateLimitedClusters = ["static"]
        s.totals.rateLimited = [Pair(listener: "secure", cluster: "static"): 7]
        let text = PrometheusText.render(s)
        #expect(text.contains("# TYPE sluice_rate_limited_total counter\n"))
        #expect(
            text.contains(
                """
                sluice_rate_limited_total{listener="secure",cluster="static"} 7
                sluice_rate_limited_total{listener="web",cluster="app"} 0

                """))
    }
}
