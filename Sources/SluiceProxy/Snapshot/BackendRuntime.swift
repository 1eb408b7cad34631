import SluiceConfig
import SluiceSystem

/// One backend as a snapshot sees it. Immutable; shared by all workers.
final class BackendRuntime: Sendable {
    let name: String
    let address: SocketAddress
    let weight: Int
    let isStandby: Bool
    /// `host:port` as configured: the Host sent for requests that came without one (HTTP/1.0).
    let hostHeader: [UInt8]
    /// Process-wide index, stable across reloads: workers index pools and counts with it.
    let id: Int
    /// Health shared across snapshots: written by its checker, read by every worker.
    let health: BackendHealth
    /// SNI and the name to verify for `upstream_tls`: `server_name`, else the address's host.
    let serverName: String

    init(_ c: BackendConfig, isStandby: Bool, id: Int, health: BackendHealth, serverName: String?) {
        name = c.name
        address = c.address
        weight = c.weight
        self.isStandby = isStandby
        hostHeader = Array(c.addressText.utf8)
        self.id = id
        self.health = health
        self.serverName = serverName ?? ((try? SocketAddress.split(c.addressText).host) ?? c.addressText)
    }
}
