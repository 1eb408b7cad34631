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

    @Option(help: "Service time of an ordinary answer, in milliseconds (SIGUSR1 doubles it).")
    var delayMs: Int = 0

    @Option(help: "Requests served at once; past it 503 (0 = unlimited).")
    var maxConcurrency: Int = 0

    @Option(help: "Status of an ordinary answer (e.g. 503: a broken deploy whose /health still passes).")
    var status: Int = 200

    @Option(help: "Seconds after start at which the service time changes to --slow-delay-ms (a database slowing down).")
    var slowAfterSeconds: Double?

    @Option(help: "Service time from --slow-after-seconds on, ms (default: twice --delay-ms).")
    var slowDelayMs: Int?

    @Option(help: "Ordinary 200s carry Cache-Control: max-age=N, an ETag and a Last-Modified; a matching conditional request gets 304.")
    var maxAge: Int?

    func run() throws {
        let signals = try Signals.blockAndOpenFD()
        let b = DemoBackend(
            name: name,
            behavior: BackendBehavior(
                status: status, bodySize: bodySize, delay: UInt64(delayMs) * 1_000_000, maxConcurrency: maxConcurrency,
                maxAge: maxAge))
        let p = try b.start(port: port)
        FileHandle.standardOutput.write(Data("listening 127.0.0.1:\(p)\n".utf8))
        let started = Date()
        var slowAt = slowAfterSeconds.map { started.addingTimeInterval($0) }
        while true {
            let wait = slowAt.map { Int32(max(1, min(1000, $0.timeIntervalSinceNow * 1000))) } ?? 1000
            let sig = Signals.wait(signals, timeoutMillis: wait)
            if sig == Signals.terminate || sig == Signals.interrupt { break }
            if sig == Signals.user1 {
                // SIGUSR1: the service time doubles, at once (the bench's signal for a slowdown).
                b.behavior.delay = max(1_000_000, b.behavior.delay * 2)
                FileHandle.standardOutput.write(Data("service time \(b.behavior.delay / 1_000_000) ms\n".utf8))
            }
            if let at = slowAt, Date() >= at {
                slowAt = nil
                b.behavior.delay = UInt64(slowDelayMs ?? 2 * delayMs) * 1_000_000
                FileHandle.standardOutput.write(Data("service time \(b.behavior.delay / 1_000_000) ms\n".utf8))
            }
        }
        b.stop()
        // The same counters GET /__count serves, for a bench that stops this process.
        FileHandle.standardOutput.write(Data("requests \(b.ordinaryRequests) not_modified \(b.notModifiedAnswers)\n".utf8))
    }
}
