import Foundation
import Glibc

/// The built `sluice-backend` as its own process, so a test can SIGKILL it like a crashed server.
final class BackendProcess: @unchecked Sendable {
    let process = Process()
    let port: Int

    init(name: String) throws {
        process.executableURL = SluiceProcess.binary.deletingLastPathComponent().appendingPathComponent("sluice-backend")
        process.arguments = ["--port", "0", "--name", name]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        // The first line is "listening 127.0.0.1:PORT".
        var line: [UInt8] = []
        let fd = out.fileHandleForReading.fileDescriptor
        var byte: UInt8 = 0
        while read(fd, &byte, 1) == 1 && byte != 10 { line.append(byte) }
        let text = String(decoding: line, as: UTF8.self)
        guard let colon = text.lastIndex(of: ":"), let p = Int(text[text.index(after: colon)...]) else {
            throw TestClientError(description: "sluice-backend did not say its port: \(text)")
        }
        port = p
    }

    deinit { kill() }

    /// SIGKILL, as a crash: no graceful close of its connections' requests, the port closes.
    func kill() {
        if process.isRunning {
            Glibc.kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}
