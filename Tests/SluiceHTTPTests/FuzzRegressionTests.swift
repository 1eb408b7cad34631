import Testing

@testable import SluiceHTTP

/// Inputs the libFuzzer targets (Tests/Fuzz) found, kept as cases.
@Suite struct HTTPFuzzRegressionTests {
    /// A request line of exactly maxRequestLine bytes is accepted, and a read that ends just
    /// before its LF is incomplete, not 414: bytes arriving in pieces are judged as if at once.
    @Test func requestLineAtTheLimitWaitsForItsLF() {
        let limits = RequestLimits(maxHead: 512, maxRequestLine: 128)
        let line = "GET /" + String(repeating: "a", count: 114) + " HTTP/1.1"
        #expect(line.utf8.count == 128)
        let full = line + "\r\nHost: a\r\n\r\n"
        #expect(parseRequest(full, limits: limits).0 == .complete(length: full.utf8.count))
        #expect(parseRequest(line, limits: limits).0 == .incomplete)
        #expect(parseRequest(line + "\r", limits: limits).0 == .incomplete)
        // One byte longer is refused as soon as the line's whole window is in without an LF.
        let over = "GET /" + String(repeating: "a", count: 115) + " HTTP/1.1\r"
        #expect(parseRequest(over, limits: limits).0 == .invalid(HTTPParseError(414, "request line too long")))
    }
}
