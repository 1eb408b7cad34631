import Foundation
import Logging
import SluiceBackend
import SluiceConfig
import SluiceProxy

/// A proxy running in the test process on 127.0.0.1 port 0 in front of backends given by address.
///
/// `yaml` is the config with `{{B0}}`, `{{B1}}`... for the backends' addresses.
final class ProxyFixture {
    let server: ProxyServer
    let port: Int

    init(_ yaml: String, backends: [String] = []) throws {
        var text = yaml
        for (i, b) in backends.enumerated() { text = text.replacingOccurrences(of: "{{B\(i)}}", with: b) }
        let config = try ConfigLoader.parse(text, file: "test.yaml")
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        server = try ProxyServer(config: config, logger: logger)
        try server.start()
        port = server.address(ofListener: config.listeners[0].name)!.port
    }

    deinit { server.shutdown(timeout: 1_000_000_000) }

    /// A proxy with one listener and one cluster of one backend at 127.0.0.1:`port`.
    static func single(port: Int) throws -> ProxyFixture {
        try ProxyFixture(
            """
            workers: 1
            access_log: { path: off }
            listeners:
              - { name: web, listen: 127.0.0.1:0, routes: [ { cluster: app } ] }
            clusters:
              - { name: app, backends: [ { address: 127.0.0.1:\(port) } ] }
            """)
    }

    /// A one-cluster proxy over `backends` with extra top-level YAML and cluster YAML.
    static func simple(
        _ backends: [DemoBackend], top: String = "", cluster: String = "", weights: [Int]? = nil, workers: Int = 1
    ) throws -> ProxyFixture {
        let list = backends.enumerated().map { i, b in
            "      - { name: \(b.name), address: 127.0.0.1:\(b.port), weight: \(weights?[i] ?? 1) }"
        }.joined(separator: "\n")
        let yaml = """
            workers: \(workers)
            access_log: { path: off }
            \(top)
            listeners:
              - name: web
                listen: 127.0.0.1:0
                routes:
                  - cluster: app
            clusters:
              - name: app
            \(cluster)
                backends:
            \(list)

            """
        return try ProxyFixture(yaml)
    }
}

/// Starts a built-in backend on a free port.
func backend(_ name: String, _ behavior: BackendBehavior = BackendBehavior()) throws -> DemoBackend {
    let b = DemoBackend(name: name, behavior: behavior)
    try b.start()
    return b
}
