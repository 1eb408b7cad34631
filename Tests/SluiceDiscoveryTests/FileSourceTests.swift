import Foundation
import SluiceSystem
import Testing

@testable import SluiceDiscovery

/// A fresh temporary folder per test, removed at the end.
final class TempFolder {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "sluice-filesource-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func write(_ name: String, _ text: String) throws {
        try text.write(toFile: path + "/" + name, atomically: false, encoding: .utf8)
    }

    /// Writes a temporary file and renames it over `name`, as a deploy tool does.
    func replace(_ name: String, _ text: String) throws {
        try write(name + ".tmp", text)
        #expect(rename(path + "/" + name + ".tmp", path + "/" + name) == 0)
    }
}

@Suite struct FileSourceTests {
    let refresh: UInt64 = 5 * second

    func names(_ p: FileSource.Poll) -> [String]? {
        guard case .read(.success(let a)) = p else { return nil }
        return a.backends.map(\.name)
    }

    func error(_ p: FileSource.Poll) -> String? {
        guard case .read(.failure(let e)) = p else { return nil }
        return e.message
    }

    @Test func theFirstPollReadsAndAnUnchangedFileIsNotReadAgainUntilRefresh() throws {
        let dir = try TempFolder()
        try dir.write("b.yaml", "- { name: app1, address: 10.0.0.7:8000, weight: 3 }\n- { address: 10.0.0.8:8000, tier: standby }\n")
        let source = FileSource(path: dir.path + "/b.yaml", refresh: refresh)
        let first = source.poll(now: 100)
        #expect(
            first
                == .read(
                    .success(
                        DiscoveryAnswer(backends: [
                            backend("app1", 7, weight: 3), DiscoveredBackend(address: backend("x", 8).address, tier: .standby),
                        ]))))
        #expect(source.poll(now: 100 + 1 * second) == .unchanged)
        #expect(source.poll(now: 100 + refresh - 1) == .unchanged)
        #expect(names(source.poll(now: 100 + refresh)) == ["app1", "10.0.0.8:8000"])
        #expect(source.poll(now: 100 + refresh + 1) == .unchanged)
    }

    @Test func aRewriteInPlaceIsSeenAtTheNextPoll() throws {
        let dir = try TempFolder()
        try dir.write("b.yaml", "- { name: app1, address: 10.0.0.7:8000 }\n")
        let source = FileSource(path: dir.path + "/b.yaml", refresh: refresh)
        #expect(names(source.poll(now: 0)) == ["app1"])
        try dir.write("b.yaml", "- { name: app1, address: 10.0.0.7:8000 }\n- { name: app2, address: 10.0.0.8:8000 }\n")
        #expect(names(source.poll(now: 1)) == ["app1", "app2"])
        #expect(source.poll(now: 2) == .unchanged)
        try dir.write("b.yaml", "[]\n")
        #expect(names(source.poll(now: 3)) == [])
    }

    @Test func anAtomicRenameIsSeenEvenWithTheSameSize() throws {
        let dir = try TempFolder()
        try dir.write("b.yaml", "- { name: app1, address: 10.0.0.7:8000 }\n")
        let source = FileSource(path: dir.path + "/b.yaml", refresh: refresh)
        #expect(names(source.poll(now: 0)) == ["app1"])
        try dir.replace("b.yaml", "- { name: app2, address: 10.0.0.8:8000 }\n")
        #expect(names(source.poll(now: 1)) == ["app2"])
        #expect(source.poll(now: 2) == .unchanged)
        try dir.replace("b.yaml", "- { name: app3, address: 10.0.0.9:8000 }\n")
        #expect(names(source.poll(now: 3)) == ["app3"])
    }

    @Test func aBadEntryIsReportedWithFileAndLineUntilTheFileIsFixed() throws {
        let dir = try TempFolder()
        let path = dir.path + "/b.yaml"
        try dir.write("b.yaml", "- { name: app1, address: 10.0.0.7:8000 }\n- { name: app2, address: app2.internal:8000 }\n")
        let source = FileSource(path: path, refresh: refresh)
        let message =
            "\(path):2: backend \"app2\".address: \"app2.internal:8000\": address must be an IP address and port; names belong to a dns or srv source"
        #expect(error(source.poll(now: 0)) == message)
        #expect(source.poll(now: 1) == .unchanged)
        #expect(error(source.poll(now: refresh)) == message)
        try dir.write("b.yaml", "- { name: app1, address: nowhere:1 }\n- { name: app2, weight: 2 }\n- { name: app3, tier: x }\n")
        #expect(error(source.poll(now: refresh + 1))?.hasPrefix("\(path):1: backend \"app1\".address: \"nowhere:1\"") == true)
        let four = error(source.poll(now: 2 * refresh + 1)) ?? ""
        #expect(four.hasSuffix("(and 1 more)") && four.contains("; \(path):2: ") && four.contains("; \(path):3: "), "\(four)")
        try dir.write("b.yaml", "- { name: app1, address: 10.0.0.7:8000 }\n")
        #expect(names(source.poll(now: 2 * refresh + 2)) == ["app1"])
    }

    @Test func anEmptyFileIsAnError() throws {
        let dir = try TempFolder()
        try dir.write("b.yaml", "")
        let source = FileSource(path: dir.path + "/b.yaml", refresh: refresh)
        #expect(error(source.poll(now: 0)) == "\(dir.path)/b.yaml:1: empty file: a truncated write? write [] to remove every backend")
    }

    @Test func aMissingFileIsAnErrorNamingThePathAndComesBackWhenWritten() throws {
        let dir = try TempFolder()
        let path = dir.path + "/b.yaml"
        try dir.write("b.yaml", "- { name: app1, address: 10.0.0.7:8000 }\n")
        let source = FileSource(path: path, refresh: refresh)
        #expect(names(source.poll(now: 0)) == ["app1"])
        try FileManager.default.removeItem(atPath: path)
        #expect(error(source.poll(now: 1)) == "cannot read \(path): No such file or directory")
        #expect(source.poll(now: 2) == .unchanged)
        #expect(error(source.poll(now: 1 + refresh)) == "cannot read \(path): No such file or directory")
        try dir.write("b.yaml", "- { name: app2, address: 10.0.0.8:8000 }\n")
        #expect(names(source.poll(now: 2 + refresh)) == ["app2"])
    }

    @Test func aFolderOrAnUnreadableFileIsAnError() throws {
        let dir = try TempFolder()
        #expect(error(FileSource(path: dir.path, refresh: refresh).poll(now: 0)) == "cannot read \(dir.path): Is a directory")
        try dir.write("b.yaml", "[]\n")
        #expect(chmod(dir.path + "/b.yaml", 0) == 0)
        let source = FileSource(path: dir.path + "/b.yaml", refresh: refresh)
        if geteuid() == 0 {
            // root reads it anyway.
            #expect(names(source.poll(now: 0)) == [])
        } else {
            #expect(error(source.poll(now: 0)) == "cannot read \(dir.path)/b.yaml: Permission denied")
            #expect(source.poll(now: 1) == .unchanged)
            #expect(chmod(dir.path + "/b.yaml", 0o644) == 0)
            #expect(names(source.poll(now: 2)) == [])
        }
    }
}
