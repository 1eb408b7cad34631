import Testing

@testable import SluiceConfig

/// The top-level `cache` block and a route's `cache` (DESIGN §2, docs/configuration.md).
@Suite struct CacheConfigTests {
    static let yaml = """
        cache: { max_size: 64MiB, max_object: 1MiB }
        listeners:
          - name: web
            listen: 127.0.0.1:0
            routes:
              - match: { path_prefix: /products/ }
                cluster: app
                cache:
                  default_ttl: 5s
                  max_ttl: 10m
                  stale_while_revalidate: 10s
                  stale_if_error: 5m
                  stale_if_overloaded: 1m
                  coalesce: false
              - match: { path_prefix: /static/ }
                cluster: app
                cache: {}
              - cluster: app
        clusters:
          - name: app
            backends:
              - { address: 127.0.0.1:8001 }
        """

    @Test func everyKeyDecodes() throws {
        let c = try ConfigLoader.parse(Self.yaml, file: "t.yaml")
        #expect(c.cache.maxSize == 64 << 20)
        #expect(c.cache.maxObject == 1 << 20)
        let r = c.listeners[0].routes
        let p = try #require(r[0].cache)
        #expect(p.defaultTTL == 5_000_000_000)
        #expect(p.maxTTL == 600_000_000_000)
        #expect(p.staleWhileRevalidate == 10_000_000_000)
        #expect(p.staleIfError == 300_000_000_000)
        #expect(p.staleIfOverloaded == 60_000_000_000)
        #expect(!p.coalesce)
        #expect(r[1].cache == RouteCacheConfig())  // `cache: {}`: every default
        #expect(RouteCacheConfig().coalesce && RouteCacheConfig().defaultTTL == 0 && RouteCacheConfig().maxTTL == 3_600_000_000_000)
        #expect(r[2].cache == nil)
        #expect(try ConfigLoader.parse(minimal, file: "t.yaml").cache == CacheMemoryConfig())
    }

    @Test func badValuesAreErrorsWithTheirLine() {
        let bad = Self.yaml
            .replacingOccurrences(of: "max_object: 1MiB", with: "max_object: 32MiB")
            .replacingOccurrences(of: "default_ttl: 5s", with: "default_ttl: 1h")
            .replacingOccurrences(of: "coalesce: false", with: "coalesce: maybe")
            .replacingOccurrences(of: "cache: {}", with: "cache: { ttl: 5s }")
        let e = errorsOf(bad)
        #expect(e.count == 4, "\(e)")
        #expect(
            e.contains { $0.hasPrefix("t.yaml:1:") && $0.contains("cache.max_object must be from 1KiB to a quarter of cache.max_size") })
        #expect(e.contains { $0.hasPrefix("t.yaml:9:") && $0.contains("default_ttl must not be longer than max_ttl") })
        #expect(e.contains { $0.hasPrefix("t.yaml:14:") && $0.contains("coalesce") })
        #expect(e.contains { $0.hasPrefix("t.yaml:17:") && $0.contains("ttl") })
        #expect(
            errorsOf(Self.yaml.replacingOccurrences(of: "max_size: 64MiB", with: "max_size: 100KiB")).contains {
                $0.contains("cache.max_size must be at least 1MiB")
            })
    }
}
