import ArgumentParser
import Foundation
import Logging
import SluiceConfig
import SluiceProxy
import SluiceSystem

@main
struct Sluice: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sluice",
        abstract: "A Layer-7 HTTP load balancer.",
        version: SluiceVersion.current,
        subcommands: [Run.self, Check.self, Demo.self]
    )
}

enum SluiceVersion {
    static let current = "0.1.0"
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the load balancer in the foreground.",
        discussion: """
            Signals: SIGHUP reloads the config file; SIGTERM and SIGINT stop gracefully \
            (stop accepting, finish in-flight requests up to timeouts.drain, exit 0); \
            SIGUSR1 reopens the access log file.
            """)

    @Option(name: .long, help: "The YAML configuration file.")
    var config: String

    @Option(name: .long, help: "Write the process id to this file while running.")
    var pidFile: String?

    func run() throws {
        let logger = makeLogger()
        let cfg: Config
        do {
            cfg = try ConfigLoader.load(path: config)
        } catch {
            printErrors(error)
            throw ExitCode(1)
        }
        let signals = try Signals.blockAndOpenFD()
        let server = try ProxyServer(config: cfg, logger: logger)
        server.configPath = config
        let control: ControlLoop
        do {
            control = try ControlLoop(server: server, signalFD: signals)
        } catch {
            logger.error("\(config):\(cfg.admin.line): admin: cannot listen on \(cfg.admin.listenText): \(error)")
            throw ExitCode(1)
        }
        do {
            try server.start()
        } catch let e as ListenError {
            logger.error("\(e.message)")
            throw ExitCode(1)
        }
        if let pidFile {
            try "\(ProcessInfoLite.pid)\n".write(toFile: pidFile, atomically: true, encoding: .utf8)
        }
        defer { if let pidFile { try? FileManager.default.removeItem(atPath: pidFile) } }
        control.run()
    }
}

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Parse and validate a configuration; print every error as FILE:LINE: message.")

    @Option(name: .long, help: "The YAML configuration file.")
    var config: String

    func run() throws {
        do {
            let c = try ConfigLoader.load(path: config)
            print("\(config): ok (\(c.listeners.count) listeners, \(c.clusters.count) clusters)")
        } catch {
            printErrors(error)
            throw ExitCode(1)
        }
    }
}

func printErrors(_ errors: ConfigErrors) {
    for e in errors.errors { FileHandle.standardError.write(Data((e.description + "\n").utf8)) }
}

func makeLogger() -> Logger {
    LoggingSystem.bootstrap { label in
        var h = StreamLogHandler.standardError(label: label)
        h.logLevel = .info
        return h
    }
    return Logger(label: "sluice")
}
