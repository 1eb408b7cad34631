import ArgumentParser
import Foundation
import Logging
import SluiceBackend
import SluiceConfig
import SluiceProxy
import SluiceSystem

struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run Sluice on 127.0.0.1:8080 in front of four built-in demo backends (5:3:1 and a standby).")

    @Option(name: .long, help: "Port for the load balancer's listener.")
    var port: Int = 8080

    @Option(name: .long, help: "Port for the admin API and dashboard.")
    var adminPort: Int = 9901

    func run() throws {
        let logger = makeLogger()
        let signals = try Signals.blockAndOpenFD()
        let specs = [("app1", 5, false), ("app2", 3, false), ("app3", 1, false), ("standby1", 1, true)]
        var backends: [DemoBackend] = []
        for (name, _, _) in specs {
            let b = DemoBackend(name: name)
            try b.start()
            backends.append(b)
        }
        let primaries = zip(specs, backends).filter { !$0.0.2 }.map {
            "      - { name: \($0.0.0), address: 127.0.0.1:\($0.1.port), weight: \($0.0.1) }"
        }
        let standby = zip(specs, backends).filter { $0.0.2 }.map {
            "      - { name: \($0.0.0), address: 127.0.0.1:\($0.1.port), weight: \($0.0.1) }"
        }
        let yaml = """
            access_log: { path: stdout, format: json }
            admin: { listen: "127.0.0.1:\(adminPort)" }
            listeners:
              - name: web
                listen: 127.0.0.1:\(port)
                routes:
                  - match: { path_prefix: / }
                    cluster: app
            clusters:
              - name: app
                backends:
            \(primaries.joined(separator: "\n"))
                standby:
            \(standby.joined(separator: "\n"))
                failover: { overprovisioning: 1.4, when_all_down: fail_open }
                health_check: { path: /health, interval: 1s, timeout: 500ms, rise: 2, fall: 2 }

            """
        let config: Config
        do {
            config = try ConfigLoader.parse(yaml, file: "<demo>")
        } catch {
            printErrors(error)
            throw ExitCode(1)
        }
        let server = try ProxyServer(config: config, logger: logger)
        let control = try ControlLoop(server: server, signalFD: signals)
        try server.start()
        let dashboard = control.adminAddress.map { "http://\($0)/" } ?? "(admin off)"
        FileHandle.standardOutput.write(
            Data(
                """

                Sluice demo: the load balancer is on http://127.0.0.1:\(port)/ in front of four built-in backends:
                \(zip(specs, backends).map { "  \($0.0.0) on 127.0.0.1:\($0.1.port) weight \($0.0.1)\($0.0.2 ? " (standby)" : "")" }.joined(separator: "\n"))

                Try:
                  curl -i http://127.0.0.1:\(port)/                       # X-Backend names the server that answered
                  for i in $(seq 9); do curl -s -o /dev/null -w '%header{x-backend}\\n' http://127.0.0.1:\(port)/; done
                  curl -s http://127.0.0.1:\(port)/headers                # what the backend received (X-Forwarded-For, X-Request-Id)
                  curl -s -X POST --data-binary @/etc/hostname http://127.0.0.1:\(port)/echo
                  wrk -c50 -d5s http://127.0.0.1:\(port)/                 # if wrk is installed

                Failover: make the primaries fail their health checks and watch standby1 take over,
                in proportion to the capacity lost (overprovisioning 1.4), then give it back:
                  curl -X POST http://127.0.0.1:\(backends[0].port)/sick      # app1 (weight 5) fails /health
                  curl -X POST http://127.0.0.1:\(backends[0].port)/well      # and recovers

                Dashboard (live charts, backend states, drain/disable/enable buttons): \(dashboard)
                  curl -s \(dashboard)status          # JSON: every backend's tier, weight, state, load
                  curl -s \(dashboard)metrics         # Prometheus
                  curl -X POST \(dashboard)clusters/app/backends/app2/drain

                The access log (JSON lines) follows on stdout; health changes are logged on stderr.
                Ctrl-C stops gracefully.

                """.utf8))
        control.run()
        for b in backends { b.stop() }
    }
}
