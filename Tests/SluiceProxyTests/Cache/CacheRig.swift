import Foundation
import Glibc
import Synchronization

/// The real `sluice` binary with one cached route in front of a programmable origin, for
/// the cache's end-to-end tests. `cache`: the route's `cache` block (YAML flow mapping).
final class CacheRig: @unchecked Sendable {
    let origin: OriginServer
    let sluice: SluiceProcess
    let port: Int
    let admin: Int

    init(
        cache: String = "{ stale_if_error: 60s }", workers: Int = 2, limits: String = "", accessLog: String = "off",
        top: String = "",
        _ handler: @escaping @Sendable (OriginRequest) -> OriginReply
    ) throws {
        origin = OriginServer(handler)
        sluice = try SluiceProcess(
            yaml: """
                workers: \(workers)
                \(top)
                access_log: { path: \(accessLog) }
                listeners:
                  - name: web
                    listen: 127.0.0.1:0
                    routes:
                      - match: { path_prefix: /nocache/ }
                        cluster: app
                      - match: { path_prefix: / }
                        cluster: app
                        cache: \(cache)
                clusters:
                  - name: app
                    backends: [ { address: "127.0.0.1:\(origin.port)" } ]
                    \(limits)
                """)
        port = try sluice.port(of: "web")
        admin = try sluice.adminPort()
    }

    /// One GET on a fresh connection, with extra header lines.
    func get(_ path: String, _ headers: String = "") throws -> TestResponse {
        try SluiceProxyTests.get(port, path, headers: headers)
    }

    /// One request of `method` on a fresh connection.
    func request(_ method: String, _ path: String, _ headers: String = "") throws -> TestResponse {
        let c = try TestClient(port: port)
        return try c.request("\(method) \(path) HTTP/1.1\r\nHost: test\r\n\(headers)Connection: close\r\n\r\n")
    }

    /// The value of one sample of `/metrics` (a whole line's name and labels).
    func metric(_ series: String) throws -> Double? {
        let r = try SluiceProxyTests.get(admin, "/metrics")
        for line in r.text.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.split(separator: " ").last ?? "")
        }
        return nil
    }
}

/// A counter the origin's handler and the test share.
final class Counter: Sendable {
    private let value = Atomic<Int>(0)
    func next() -> Int { value.wrappingAdd(1, ordering: .relaxed).newValue }
    var current: Int { value.load(ordering: .relaxed) }
}
