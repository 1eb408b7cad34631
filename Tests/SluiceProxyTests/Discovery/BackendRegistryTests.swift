import Logging
import SluiceConfig
import SluiceSystem
import Testing

@testable import SluiceProxy

/// Ids of forgotten backends come back into use (after a quarantine), so per-worker arrays
/// indexed by id stay as large as the most backends known at once, not every address ever seen.
@Suite struct BackendRegistryTests {
    func cluster() throws -> ClusterConfig {
        try ConfigLoader.parse(
            """
            listeners: [ { name: web, listen: 127.0.0.1:0, routes: [ { cluster: app } ] } ]
            clusters: [ { name: app, health_check: { path: /health }, discovery: { dns: app.test:80 } } ]
            """, file: "t.yaml"
        ).clusters[0]
    }

    func backend(_ name: String, _ port: Int) -> BackendConfig {
        BackendConfig(name: name, addressText: "127.0.0.1:\(port)", address: SocketAddress.numeric("127.0.0.1:\(port)")!, weight: 1)
    }

    @Test func aForgottenIdIsReusedAfterItsQuarantineAndReportedOnce() throws {
        let c = try cluster()
        let r = BackendRegistry(logger: Logger(label: "test"))
        r.idQuarantine = 0
        let (a, ha) = r.id(c, backend("a", 1))
        r.snapshotBuilt()
        #expect(r.id(c, backend("a", 1)).0 == a, "the same backend keeps its id")
        r.forget(cluster: "app", name: "a")
        let (b, hb) = r.id(c, backend("b", 2))
        #expect(b == a, "the forgotten id is reused")
        #expect(hb !== ha && !hb.isHealthy, "with fresh state: it joins unhealthy")
        #expect(r.takeRecycled() == [a])
        #expect(r.takeRecycled().isEmpty)
        #expect(r.count == 1)
        #expect(r.id(c, backend("c", 3)).0 == 1, "nothing free: a new id")
    }

    @Test func withinItsQuarantineAnIdIsNotReused() throws {
        let c = try cluster()
        let r = BackendRegistry(logger: Logger(label: "test"))
        let (a, _) = r.id(c, backend("a", 1))
        r.forget(cluster: "app", name: "a", keep: nil)
        #expect(r.id(c, backend("b", 2)).0 != a, "a request that outlived a's removal may still use its id")
        #expect(r.freeCount == 1)
    }

    @Test func forgetKeepsTheAddressStillInUse() throws {
        let c = try cluster()
        let r = BackendRegistry(logger: Logger(label: "test"))
        let (old, _) = r.id(c, backend("a", 1))
        let (new, h) = r.id(c, backend("a", 2))
        r.forget(cluster: "app", name: "a", keep: SocketAddress.numeric("127.0.0.1:2"))
        let again = r.id(c, backend("a", 2))
        #expect(again.0 == new && again.1 === h, "the address in use keeps its id and state")
        #expect(r.id(c, backend("a", 1)).0 != old, "the readdressed one's old state is gone")
    }
}
