import ArgumentParser
import Foundation
import SluiceBackend
import SluiceSystem

/// The built-in backend as its own process, for benchmarks and manual tests.
@main
struct BackendCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sluice-backend",
        abstract: "Serve HTTP/1.1 on 127.0.0.1 with Sluice's built-in demo backend until SIGTERM/SIGINT.")

    @Option(help: "Port to listen on (0: any free port; the port is printed).")
    var port: Int = 0

    @Option(help: "Name sent in the X-Backend header.")
    var name: String = "backend"

    @Option(help: "Body bytes of an ordinary answer.")
    var bodySize: Int = 13

    @Option(help: "Service time of an ordinary answer, in milliseconds.")
    var delayMs: Int = 0

    @Option(help: "Requests served at once; past it 503 (0 = unlimited).")
    var maxConcurrency: Int = 0

    @Option(help: "Status of an ordinary answer (e.g. 503: a broken deploy whose /health still passes).")
    var status: Int = 200

    func run() throws {
        let signals = try Signals.blockAndOpenFD()
        let b = DemoBackend(
            name: name,
            behavior: BackendBehavior(
                status: status, bodySize: bodySize, delay: UInt64(delayMs) * 1_000_000, maxConcurrency: maxConcurrency))
        let p = try b.start(port: port)
        FileHandle.standardOutput.write(Data("listening 127.0.0.1:\(p)\n".utf8))
        while true {
            guard let sig = Signals.wait(signals, timeoutMillis: 1000) else { continue }
            if sig == Signals.terminate || sig == Signals.interrupt { break }
        }
        b.stop()
    }
}
