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
        subcommands: [Run.self, Check.self, Upgrade.self, Demo.self]
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
            SIGUSR1 reopens the access log file; SIGUSR2 upgrades to the binary now on disk \
            (see `sluice upgrade`).
            """)

    @Option(name: .long, help: "The YAML configuration file.")
    var config: String

    @Option(name: .long, help: "Write the process id to this file while running.")
    var pidFile: String?

    func run() throws {
        let logger = makeLogger()
        // Started by a running Sluice to replace it (SIGUSR2): its sockets and state.
        var inheritance: Inheritance?
        switch Inheritance.fromEnvironment() {
        case nil: break
        case .success(let i)?: inheritance = i
        case .failure(let e)?:
            logger.error("upgrade: \(e.message)")
            e.report()
            throw ExitCode(1)
        }
        /// Tells the old process (if any) why this one does not serve; it keeps serving.
        func fail(_ reason: String) -> ExitCode {
            if let inheritance {
                logger.error("upgrade: not taking over: \(reason)")
                inheritance.failed(reason)
            }
            return ExitCode(1)
        }
        let cfg: Config
        do {
            cfg = try ConfigLoader.load(path: config)
        } catch {
            printErrors(error)
            let more = error.errors.count > 1 ? " (and \(error.errors.count - 1) more)" : ""
            throw fail("the configuration does not validate: \(error.errors.first.map(\.description) ?? "")\(more)")
        }
        let signals = try Signals.blockAndOpenFD()
        let server: ProxyServer
        let control: ControlLoop
        do {
            server = try ProxyServer(config: cfg, logger: logger)
        } catch {
            logger.error("\(error)")
            throw fail("\(error)")
        }
        server.configPath = config
        var inherited: [String: [Int32]] = [:]
        if let inheritance {
            server.restore(from: inheritance)
            do {
                inherited = try inheritance.match(cfg)
            } catch {
                throw fail(error.message)
            }
        }
        do {
            control = try ControlLoop(
                server: server, signalFD: signals, inheritedAdmin: inheritance?.adminSocket(for: cfg.admin.listen))
        } catch {
            logger.error("\(config):\(cfg.admin.line): admin: cannot listen on \(cfg.admin.listenText): \(error)")
            throw fail("admin: cannot listen on \(cfg.admin.listenText): \(error)")
        }
        do {
            try server.start(inheriting: inherited)
        } catch let e as ListenError {
            logger.error("\(e.message)")
            throw fail(e.message)
        }
        inheritance?.closeUnused()
        control.upgradeCommand = (
            ProcessInfoLite.executablePath() ?? CommandLine.arguments[0], Array(CommandLine.arguments.dropFirst())
        )
        control.pidFile = pidFile
        let pid = ProcessInfoLite.pid
        if let pidFile {
            do {
                try "\(pid)\n".write(toFile: pidFile, atomically: true, encoding: .utf8)
            } catch {
                logger.error("cannot write the pid file \(pidFile): \(error)")
                throw fail("cannot write the pid file \(pidFile): \(error)")
            }
        }
        // After an upgrade the pid file names the new process: only our own is removed.
        defer {
            if let pidFile,
                (try? String(contentsOfFile: pidFile, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) == "\(pid)"
            {
                try? FileManager.default.removeItem(atPath: pidFile)
            }
        }
        if let inheritance {
            // systemd (Type=notify, NotifyAccess=all) follows the new process from here.
            SystemdNotify.send("MAINPID=\(pid)\nREADY=1")
            inheritance.ready()
            logger.notice("upgrade: serving; the previous process drains", metadata: ["old_pid": "\(inheritance.oldPid)"])
        } else {
            SystemdNotify.send("READY=1")
        }
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
