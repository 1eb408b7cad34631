import Testing

@testable import SluiceConfig

/// Inputs the config fuzzer (Tests/Fuzz) found, kept as cases.
@Suite struct ConfigFuzzRegressionTests {
    /// A control character is a YAML reader error: it used to print Yams' three-line snippet
    /// under `FILE:1:` whatever line the character was on.
    @Test func controlCharacterIsOneErrorOnItsOwnLine() {
        let errs = errorsOf("workers: 2\nlisteners:\n  - name: \"a\u{1}\"\n")
        #expect(errs == ["t.yaml:3: YAML syntax: control characters are not allowed"])
    }

    /// A quoted value may hold a line break ("\n", or an empty line inside quotes); quoted back
    /// in a message it used to split the error over two lines.
    @Test func valuesQuotedInMessagesStayOnOneLine() {
        let yaml = minimal.replacingOccurrences(of: "- cluster: app", with: "- { cluster: app, match: { host: \"a\\nb\" } }")
        let message = #"listeners[0].routes[0].match.host: "a\nb" is not a host name (optionally with a leading *.)"#
        #expect(errorsOf(yaml) == ["t.yaml:5: " + message])
    }
}
