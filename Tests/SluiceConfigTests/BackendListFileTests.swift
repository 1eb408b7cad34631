import SluiceSystem
import Testing

@testable import SluiceConfig

@Suite struct BackendListFileTests {
    func entries(_ text: String) throws -> [BackendListEntry] {
        try BackendListFile.decode(text, file: "b.yaml").get()
    }

    /// Every error as `LINE: message`.
    func errors(_ text: String) -> [String] {
        switch BackendListFile.decode(text, file: "b.yaml") {
        case .success(let e): return ["decoded \(e.count) entries"]
        case .failure(let e): return e.errors.map { "\($0.line): \($0.message)" }
        }
    }

    @Test func aYAMLListDecodesWithDefaults() throws {
        let list = try entries(
            """
            # the app's backends
            - { name: app1, address: 10.0.0.7:8000, weight: 5 }
            - address: "[2001:db8:0::7]:8000"
              tier: standby
            - name: app3
              address: 10.0.0.9:8000
              tier: primary
              weight: 0
            """)
        #expect(list.map(\.name) == ["app1", "[2001:db8::7]:8000", "app3"])
        #expect(list.map(\.address.description) == ["10.0.0.7:8000", "[2001:db8::7]:8000", "10.0.0.9:8000"])
        #expect(list.map(\.weight) == [5, 1, 0])
        #expect(list.map(\.standby) == [false, true, false])
        #expect(list.map(\.line) == [2, 3, 5])
    }

    @Test func jsonIsYAMLToo() throws {
        let list = try entries(
            """
            [
              {"name": "app1", "address": "10.0.0.7:8000", "weight": 5},
              {"address": "10.0.0.8:8000", "tier": "standby"}
            ]
            """)
        #expect(
            list == [
                BackendListEntry(name: "app1", address: SocketAddress.numeric("10.0.0.7:8000")!, weight: 5, line: 2),
                BackendListEntry(name: "10.0.0.8:8000", address: SocketAddress.numeric("10.0.0.8:8000")!, standby: true, line: 3),
            ])
    }

    @Test func jsonIndentedWithTabsAndARepeatedJSONKeyAreHandled() throws {
        let tabbed = "[\n\t{\"address\": \"10.0.0.7:8000\"},\n\t{\"address\": \"10.0.0.8:8000\"}\n]\n"
        #expect(try entries(tabbed).map(\.line) == [2, 3])
        let repeated = "[\n  {\"address\": \"10.0.0.7:8000\",\n   \"address\": \"10.0.0.8:8000\"}\n]\n"
        #expect(errors(repeated) == ["3: key \"address\" is repeated (first at line 2)"])
    }

    @Test(arguments: ["[]", "[]\n", "# scaled to zero\n[]\n", "--- []"])
    func anExplicitEmptyListIsValid(text: String) throws {
        #expect(try entries(text).isEmpty)
    }

    @Test(arguments: ["", "\n\n", "   \n", "# nothing yet\n# really\n"])
    func anEmptyFileIsAnErrorNotAnEmptyList(text: String) {
        #expect(errors(text) == ["1: empty file: a truncated write? write [] to remove every backend"])
    }

    @Test func everyBadEntryIsReportedWithItsLine() {
        let text = """
            - { name: app1, address: 10.0.0.7:8000 }
            - { name: app2, address: app2.internal:8000 }
            - { name: app3, address: 10.0.0.9 }
            - { name: app4, address: 10.0.0.10:8000, weight: 10001 }
            - { name: app5, address: 10.0.0.11:8000, tier: backup }
            - { name: app6, address: 10.0.0.12:8000, port: 8000 }
            - { name: app1, address: 10.0.0.13:8000 }
            - { name: app8 }
            - just-a-string
            - { name: app9, address: "2001:db8::7:8000" }
            - { name: app10, address: "10.0.0.1:0" }
            - { name: "", address: 10.0.0.14:8000 }
            """
        #expect(
            errors(text) == [
                "2: backend \"app2\".address: \"app2.internal:8000\": address must be an IP address and port; names belong to a dns or srv source",
                "3: backend \"app3\".address: \"10.0.0.9\" is not an IP address and port (like 10.0.0.7:8000 or [2001:db8::7]:8000)",
                "4: backend \"app4\".weight: \"10001\" must be a whole number from 0 to 10000",
                "5: backend \"app5\".tier: \"backup\" is not one of primary | standby",
                "6: unknown key \"port\" in entry 6 (known: name, address, weight, tier)",
                "7: backend name \"app1\" is used twice (first at line 1)",
                "8: backend \"app8\": \"address\" is required",
                "9: entry 9 must be a mapping",
                "10: backend \"app9\".address: \"2001:db8::7:8000\": an IPv6 address is written in brackets, like [2001:db8::7]:8000",
                "11: backend \"app10\".address: \"10.0.0.1:0\" is not an IP address and port (like 10.0.0.7:8000 or [2001:db8::7]:8000)",
                "12: entry 12: name must not be empty",
            ])
    }

    @Test func aRepeatedKeyInAValidFileIsReportedAtItsRepeat() {
        let text = """
            - name: app1
              address: 10.0.0.15:8000
              address: 10.0.0.16:8000
            """
        #expect(errors(text) == ["3: key \"address\" is repeated (first at line 2)"])
    }

    @Test(arguments: [
        ("- { name: app1, address: 10.0.0.7:8000\n- { name: app2 }\n", 2),
        ("- name: app1\n  address: [10.0.0.7:8000\n", 3),
        ("[{\"address\": \"10.0.0.7:8000\"},\n {\"address\": \"10.0.0.8:8000\"]\n", 2),
    ])
    func malformedYAMLIsAnErrorWithItsLine(text: String, line: Int) {
        let e = errors(text)
        #expect(e.count == 1)
        #expect(e.first?.hasPrefix("\(line): YAML syntax: ") == true, "\(e)")
    }

    @Test(arguments: [
        ("app1: 10.0.0.7:8000\n", "1: the file must be a list of backends like - { name: app1, address: 10.0.0.7:8000 }"),
        ("null\n", "1: the file must be a list of backends like - { name: app1, address: 10.0.0.7:8000 }"),
        ("- { name: [a, b], address: 10.0.0.7:8000 }\n", "1: entry 1.name must be a single value"),
    ])
    func aFileThatIsNotAListOfMappingsIsAnError(text: String, message: String) {
        #expect(errors(text) == [message])
    }

    @Test func errorsNameTheFile() {
        guard case .failure(let e) = BackendListFile.decode("- { address: nowhere:80 }\n", file: "/etc/sluice/app.yaml") else {
            Issue.record("decoded")
            return
        }
        #expect(e.description.hasPrefix("/etc/sluice/app.yaml:1: entry 1.address: \"nowhere:80\": address must be an IP"))
    }
}
