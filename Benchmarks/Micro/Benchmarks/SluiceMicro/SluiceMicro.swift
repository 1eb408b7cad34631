import Benchmark
import Foundation
import Glibc
import Logging
import SluiceBalancing
import SluiceConfig
import SluiceHTTP
import SluiceProxy

// Micro-benchmarks of the per-request path: head parsing, backend choice, and a whole
// proxied request through an in-process Sluice (allocations per request: target 0).

let browserRequest = Array(
    """
    GET /products/42?ref=home HTTP/1.1\r
    Host: shop.example\r
    User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r
    Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r
    Accept-Language: en-US,en;q=0.5\r
    Accept-Encoding: gzip, deflate, br\r
    Cookie: session=8f14e45fceea167a5a36dedd4bea2543; cart=3\r
    Connection: keep-alive\r
    \r

    """.utf8)

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal, .instructions], maxDuration: .seconds(2))

    let perThousand = Benchmark.Configuration(
        metrics: [.wallClock, .throughput, .mallocCountTotal, .instructions], scalingFactor: .kilo, maxDuration: .seconds(2))

    Benchmark("parse request head (browser GET, 8 fields)", configuration: perThousand) { benchmark in
        var head = RequestHead()
        let limits = RequestLimits()
        browserRequest.withUnsafeBytes { raw in
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                blackHole(head.parse(raw, limits: limits))
            }
            benchmark.stopMeasurement()
        }
    }

    Benchmark("pick backend: smooth weighted round robin, 9 backends", configuration: perThousand) { benchmark in
        var rr = SmoothWeightedRoundRobin(weights: [5, 3, 1, 5, 3, 1, 5, 3, 1])
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(rr.next())
        }
        benchmark.stopMeasurement()
    }

    Benchmark("pick backend: smooth WRR skipping one tried backend", configuration: perThousand) { benchmark in
        var rr = SmoothWeightedRoundRobin(weights: [5, 3, 1])
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(rr.next { $0 != 0 })
        }
        benchmark.stopMeasurement()
    }

    Benchmark("pick backend: weighted random, 9 backends", configuration: perThousand) { benchmark in
        let wr = WeightedRandom(weights: [5, 3, 1, 5, 3, 1, 5, 3, 1])
        var rng = FastRandom(seed: 1)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(wr.pick(where: { _ in true }, random: { rng.next() }))
        }
        benchmark.stopMeasurement()
    }

    Benchmark("pick backend: least request (P2C), 9 backends", configuration: perThousand) { benchmark in
        let lr = LeastRequest(weights: [5, 3, 1, 5, 3, 1, 5, 3, 1])
        let active = [3, 0, 2, 7, 1, 0, 4, 2, 1]
        var rng = FastRandom(seed: 1)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(lr.pick(active: { active[$0] }, where: { _ in true }, random: { rng.next() }))
        }
        benchmark.stopMeasurement()
    }

    Benchmark("pick backend: Maglev hash of a 16-byte key, 9 backends", configuration: perThousand) { benchmark in
        let m = Maglev(names: (1...9).map { "app\($0)" }, weights: [5, 3, 1, 5, 3, 1, 5, 3, 1])
        let key = Array("203.0.113.7:4431".utf8)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(m.pick(key: Maglev.hash(key), where: { _ in true }))
        }
        benchmark.stopMeasurement()
    }

    Benchmark(
        "proxied request, keep-alive, in-process (GET, 2-byte body)",
        configuration: .init(metrics: [.wallClock, .throughput, .mallocCountTotal], maxDuration: .seconds(3))
    ) { benchmark in
        let rig = ProxyRig.shared
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            rig.roundTrip()
        }
        benchmark.stopMeasurement()
    }

    Benchmark(
        "cache hit, keep-alive, in-process (GET, 2-byte body, default_ttl)",
        configuration: .init(metrics: [.wallClock, .throughput, .mallocCountTotal], maxDuration: .seconds(3))
    ) { benchmark in
        let rig = ProxyRig.cached
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            rig.roundTrip()
        }
        benchmark.stopMeasurement()
    }

    Benchmark(
        "proxied request through a client_ip rate_limit (allowed), keep-alive, in-process",
        configuration: .init(metrics: [.wallClock, .throughput, .mallocCountTotal], maxDuration: .seconds(3))
    ) { benchmark in
        let rig = ProxyRig.rateLimited
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            rig.roundTrip()
        }
        benchmark.stopMeasurement()
    }
}

/// An in-process Sluice (one worker) before an allocation-free backend thread, and an
/// allocation-free client: what mallocs remain per request are Sluice's.
final class ProxyRig: @unchecked Sendable {
    nonisolated(unsafe) static let shared = ProxyRig()
    /// The same with a `rate_limit` on the route that never refuses: the cost of the check.
    nonisolated(unsafe) static let rateLimited = ProxyRig(
        route: ", rate_limit: { key: client_ip, rate: 10000000/s, burst: 10000000 }")
    /// The route cached (the backend's answer stored by `default_ttl`): after the warm-up
    /// every request is a hit, answered without the backend.
    nonisolated(unsafe) static let cached = ProxyRig(route: ", cache: { default_ttl: 1h }")
    let server: ProxyServer
    let clientFD: Int32
    let request = Array("GET / HTTP/1.1\r\nHost: a\r\n\r\n".utf8)
    let buffer = UnsafeMutableRawPointer.allocate(byteCount: 65536, alignment: 16)

    /// `route`: more keys for the one route (`, rate_limit: {...}`).
    init(route: String = "") {
        let backendFD = ProxyRig.listener()
        let port = ProxyRig.port(of: backendFD)
        Thread.detachNewThread { ProxyRig.serve(backendFD) }
        let yaml = """
            workers: 1
            access_log: { path: off }
            listeners:
              - { name: web, listen: 127.0.0.1:0, routes: [ { cluster: app\(route) } ] }
            clusters:
              - { name: app, backends: [ { address: 127.0.0.1:\(port) } ] }
            """
        let config = try! ConfigLoader.parse(yaml, file: "micro.yaml")
        server = try! ProxyServer(config: config, logger: Logger(label: "micro"))
        try! server.start()
        clientFD = ProxyRig.connect(server.address(ofListener: "web")!.port)
        for _ in 0..<1000 { roundTrip() }  // warm: pools and buffers filled
    }

    /// Sends one request and reads until its complete response ("ok" body) arrived.
    func roundTrip() {
        _ = request.withUnsafeBytes { send(clientFD, $0.baseAddress!, $0.count, Int32(MSG_NOSIGNAL)) }
        var got = 0
        while true {
            let n = recv(clientFD, buffer + got, 65536 - got, 0)
            if n <= 0 { fatalError("proxy closed the connection") }
            got += n
            if got >= 2 && buffer.load(fromByteOffset: got - 2, as: UInt8.self) == UInt8(ascii: "o")
                && buffer.load(fromByteOffset: got - 1, as: UInt8.self) == UInt8(ascii: "k")
            {
                return
            }
        }
    }

    static func listener() -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        listen(fd, 16)
        return fd
    }

    static func port(of fd: Int32) -> Int {
        var addr = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    static func connect(_ port: Int) -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, 4)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        return fd
    }

    /// The backend: answers every request head with a fixed response; no allocation per request.
    static func serve(_ listenFD: Int32) {
        let reply = Array("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".utf8)
        let buf = UnsafeMutableRawPointer.allocate(byteCount: 65536, alignment: 16)
        while true {
            let c = accept(listenFD, nil, nil)
            if c < 0 { return }
            var one: Int32 = 1
            setsockopt(c, Int32(IPPROTO_TCP), TCP_NODELAY, &one, 4)
            var have = 0
            while true {
                let n = recv(c, buf + have, 65536 - have, 0)
                if n <= 0 { break }
                have += n
                // Answer each complete head (requests have no body here).
                var start = 0
                var i = 3
                while i < have {
                    if buf.load(fromByteOffset: i - 3, as: UInt32.self) == 0x0A0D_0A0D {
                        _ = reply.withUnsafeBytes { send(c, $0.baseAddress!, $0.count, Int32(MSG_NOSIGNAL)) }
                        start = i + 1
                    }
                    i += 1
                }
                if start > 0 {
                    memmove(buf, buf + start, have - start)
                    have -= start
                }
            }
            close(c)
        }
    }
}
