import SluiceSystem
import Testing

@testable import SluiceDiscovery

@Suite struct DiscoveredBackendTests {
    @Test func aBackendWithoutANameIsNamedByItsAddress() throws {
        let a = try #require(SocketAddress.numeric("10.0.0.7:8000"))
        #expect(DiscoveredBackend(address: a).name == "10.0.0.7:8000")
        let b = try #require(SocketAddress.fromRecord([0x20, 0x01, 0x0d, 0xb8] + Array(repeating: 0, count: 11) + [7], port: 8000))
        #expect(DiscoveredBackend(address: b).name == "[2001:db8::7]:8000")
        #expect(SocketAddress.fromRecord([10, 0, 0, 7], port: 8000) == a)
    }

    @Test func onlyNumericAddressesAreAccepted() {
        #expect(SocketAddress.numeric("localhost:80") == nil)
        #expect(SocketAddress.numeric("10.0.0.1:0") == nil)
        #expect(SocketAddress.numeric("10.0.0.1") == nil)
        #expect(SocketAddress.numeric("[::1]:80")?.description == "[::1]:80")
    }
}
