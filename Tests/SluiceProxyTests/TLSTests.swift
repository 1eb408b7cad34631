import Foundation
import Glibc
import SluiceBackend
import Testing

/// TLS termination (OpenSSL) with certificates made for the test by the openssl command line;
/// curl and openssl s_client are the clients.
@Suite struct TLSTests {
    static func shell(_ args: [String], input: String = "") throws -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = args
        let out = Pipe()
        let inp = Pipe()
        p.standardOutput = out
        p.standardError = out
        p.standardInput = inp
        try p.run()
        inp.fileHandleForWriting.write(Data(input.utf8))
        try? inp.fileHandleForWriting.close()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// A self-signed certificate for `name` in `dir`: (cert, key) paths.
    static func certificate(_ name: String, in dir: String) throws -> (String, String) {
        let cert = "\(dir)/\(name).pem"
        let key = "\(dir)/\(name).key"
        let (rc, out) = try shell([
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "2",
            "-subj", "/CN=\(name)", "-addext", "subjectAltName=DNS:\(name)",
        ])
        #expect(rc == 0, "\(out)")
        return (cert, key)
    }

    func proxy(_ b: DemoBackend, dir: String, minVersion: String = "1.2", handshake: String = "10s") throws -> ProxyFixture {
        let (ca, ka) = try Self.certificate("a.example", in: dir)
        let (cb, kb) = try Self.certificate("b.example", in: dir)
        return try ProxyFixture(
            """
            workers: 1
            access_log: { path: off }
            listeners:
              - name: secure
                listen: 127.0.0.1:0
                tls:
                  certificates:
                    - { cert: \(ca), key: \(ka) }
                    - { cert: \(cb), key: \(kb) }
                  min_version: "\(minVersion)"
                  handshake_timeout: \(handshake)
                routes: [ { cluster: app } ]
            clusters:
              - { name: app, backends: [ { address: 127.0.0.1:\(b.port) } ] }
            """)
    }

    func tempDir() throws -> String {
        let d = NSTemporaryDirectory() + "sluice-tls-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    @Test func httpsIsTerminatedAndForwardedAsHttpWithTheProtoHeader() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let b = try backend("app1")
        let p = try proxy(b, dir: dir)
        let (rc, out) = try Self.shell(["curl", "-sk", "https://127.0.0.1:\(p.port)/headers"])
        #expect(rc == 0)
        #expect(out.contains("X-Forwarded-Proto: https\r\n"))
        let (rc2, big) = try Self.shell([
            "curl", "-sk", "-o", "/dev/null", "-w", "%{size_download}", "https://127.0.0.1:\(p.port)/bytes/3000000",
        ])
        #expect(rc2 == 0)
        #expect(big == "3000000")
    }

    @Test func sniPicksTheCertificateThatNamesTheHostAndTheFirstIsTheDefault() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let b = try backend("app1")
        let p = try proxy(b, dir: dir)
        let (_, named) = try Self.shell(["openssl", "s_client", "-connect", "127.0.0.1:\(p.port)", "-servername", "b.example"])
        #expect(named.contains("subject=CN = b.example"))
        let (_, other) = try Self.shell(["openssl", "s_client", "-connect", "127.0.0.1:\(p.port)", "-servername", "c.example"])
        #expect(other.contains("subject=CN = a.example"))
    }

    /// `openssl s_client ARGS` until it prints its handshake summary, then SIGKILL: the client
    /// vanishes without close_notify, as a browser tab or a crashed client does.
    static func handshakeThenVanish(_ args: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["openssl", "s_client"] + args
        let out = Pipe()
        let inp = Pipe()  // kept open: s_client waits for input instead of closing cleanly
        p.standardOutput = out
        p.standardError = out
        p.standardInput = inp
        try p.run()
        var text = ""
        while !text.contains("\nNew,") && !text.contains("\nReused,") {
            let d = out.fileHandleForReading.availableData
            if d.isEmpty { break }
            text += String(decoding: d, as: UTF8.self)
        }
        usleep(100_000)  // let it write -sess_out and reach its read loop
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        return text
    }

    @Test func tls12SessionIDsResumeAfterClientsLeaveWithoutCloseNotify() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let b = try backend("app1")
        let p = try proxy(b, dir: dir)
        let session = "\(dir)/session.pem"
        // -no_ticket: the server's session cache, not a ticket, must carry the resumption.
        let common = ["-connect", "127.0.0.1:\(p.port)", "-tls1_2", "-no_ticket"]
        let first = try Self.handshakeThenVanish(common + ["-sess_out", session])
        #expect(first.contains("\nNew, TLSv1.2"), "\(first)")
        var reused = 0
        for _ in 0..<5 where try Self.handshakeThenVanish(common + ["-sess_in", session]).contains("\nReused, TLSv1.2") {
            reused += 1
        }
        #expect(reused == 5)
    }

    @Test func alpnSelectsHTTP11WhenOfferedAndNothingOtherwise() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let b = try backend("app1")
        let p = try proxy(b, dir: dir)
        let (_, both) = try Self.shell(["openssl", "s_client", "-connect", "127.0.0.1:\(p.port)", "-alpn", "h2,http/1.1"])
        #expect(both.contains("ALPN protocol: http/1.1"), "\(both)")
        let (_, h2) = try Self.shell(["openssl", "s_client", "-connect", "127.0.0.1:\(p.port)", "-alpn", "h2"])
        #expect(h2.contains("No ALPN negotiated"), "\(h2)")
        #expect(h2.contains("\nNew, TLSv1.3"))
        // curl offers http/1.1 and gets it.
        let (rc, out) = try Self.shell([
            "curl", "-sk", "-v", "--http1.1", "-o", "/dev/null", "https://127.0.0.1:\(p.port)/",
        ])
        #expect(rc == 0)
        #expect(out.contains("ALPN: server accepted http/1.1") || out.contains("ALPN, server accepted to use http/1.1"), "\(out)")
    }

    @Test func keyExchangeIsLimitedToX25519P256AndP384() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let b = try backend("app1")
        let p = try proxy(b, dir: dir)
        for (group, accepted) in [
            ("X25519", true), ("P-256", true), ("P-384", true), ("ffdhe8192", false), ("ffdhe2048", false), ("X448", false),
            ("P-521", false),
        ] {
            let (_, out) = try Self.shell(["openssl", "s_client", "-connect", "127.0.0.1:\(p.port)", "-groups", group])
            #expect(out.contains("\nNew, TLSv1.3") == accepted, "\(group): \(out)")
        }
    }

    @Test func minVersionRefusesOlderProtocols() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let b = try backend("app1")
        let p = try proxy(b, dir: dir, minVersion: "1.3")
        #expect(try Self.shell(["curl", "-sk", "--tls-max", "1.2", "https://127.0.0.1:\(p.port)/"]).0 != 0)
        #expect(try Self.shell(["curl", "-sk", "--tlsv1.3", "https://127.0.0.1:\(p.port)/"]).0 == 0)
    }

    @Test func aSilentOrPlainHttpClientIsDroppedAfterTheHandshakeTimeout() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let b = try backend("app1")
        let p = try proxy(b, dir: dir, handshake: "300ms")
        let silent = try TestClient(port: p.port, timeoutSeconds: 5)
        let start = Date()
        #expect(silent.isClosedByServer())
        #expect(Date().timeIntervalSince(start) < 3)
        let plain = try TestClient(port: p.port, timeoutSeconds: 5)
        try plain.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        _ = plain.readToEnd()  // a TLS alert at most, then the close
        #expect(b.requestsServed == 0)
    }
}

/// TLS to backends (`upstream_tls`): the "backend" is a second sluice terminating TLS in
/// front of a built-in backend, with a certificate made for the test.
@Suite struct UpstreamTLSTests {
    @Test func backendsAreSpokenToOverVerifiedTLS() throws {
        let dir = NSTemporaryDirectory() + "sluice-utls-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (cert, key) = try TLSTests.certificate("backend.internal", in: dir)
        let app = try backend("app1")
        let tlsBackend = try ProxyFixture(
            """
            workers: 1
            access_log: { path: off }
            listeners:
              - name: tls
                listen: 127.0.0.1:0
                tls: { certificates: [ { cert: \(cert), key: \(key) } ] }
                routes: [ { cluster: app } ]
            clusters:
              - { name: app, backends: [ { address: 127.0.0.1:\(app.port) } ] }
            """)
        func front(_ tls: String) throws -> ProxyFixture {
            try ProxyFixture(
                """
                workers: 1
                access_log: { path: off }
                listeners:
                  - { name: web, listen: 127.0.0.1:0, routes: [ { cluster: secure } ] }
                clusters:
                  - name: secure
                    backends: [ { address: 127.0.0.1:\(tlsBackend.port) } ]
                    upstream_tls: \(tls)
                    health_check: { path: /health, interval: 200ms, timeout: 150ms }
                """)
        }
        // Verified against the backend's own certificate as CA, by the name it carries;
        // the request arrives over TLS (the TLS hop sets X-Forwarded-Proto: https). The real
        // binary with `when_all_down: reject`: if the checks failed, requests would get 503.
        let good = try SluiceProcess(
            yaml: """
                workers: 1
                access_log: { path: off }
                listeners:
                  - { name: web, listen: 127.0.0.1:0, routes: [ { cluster: secure } ] }
                clusters:
                  - name: secure
                    backends: [ { name: tls1, address: 127.0.0.1:\(tlsBackend.port) } ]
                    upstream_tls: { ca_file: \(cert), server_name: backend.internal }
                    health_check: { path: /health, interval: 150ms, timeout: 150ms, rise: 1, fall: 1 }
                    failover: { when_all_down: reject }
                """)
        let port = try good.port(of: "web")
        let admin = try good.adminPort()
        let r = try get(port, "/headers")
        #expect(r.status == 200)
        #expect(r.header("X-Backend") == "app1")
        #expect(r.text.contains("X-Forwarded-Proto: https"))
        // Health checks go over TLS too: after several rounds /status shows them passing.
        func check() throws -> [String: Any] {
            let s = try TestClient(port: admin).request("GET /status HTTP/1.1\r\nHost: admin\r\n\r\n")
            let json = try JSONSerialization.jsonObject(with: Data(s.body)) as? [String: Any]
            return ((json?["clusters"] as? [[String: Any]])?.first?["backends"] as? [[String: Any]])?.first ?? [:]
        }
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline, ((try check()["health_checks"] as? [String: Any])?["passed"] as? Int ?? 0) < 3 { usleep(50_000) }
        let status = try check()
        #expect(status["state"] as? String == "healthy")
        #expect((status["health_checks"] as? [String: Any])?["passed"] as? Int ?? 0 >= 3, "\(status)")
        #expect((status["health_checks"] as? [String: Any])?["failed"] as? Int == 0, "\(status)")
        #expect(try get(port, "/").status == 200)
        good.signal(SIGTERM)
        #expect(good.waitForExit(timeout: 10) == 0)
        // A name the certificate does not carry fails verification: 502, nothing forwarded.
        let served = app.requestsServed
        let wrong = try front("{ ca_file: \(cert), server_name: other.internal }")
        #expect(try get(wrong.port, "/").status == 502)
        #expect(app.requestsServed == served)
        // verify: false accepts it (for lab backends with throwaway certificates).
        let lax = try front("{ server_name: other.internal, verify: false }")
        #expect(try get(lax.port, "/").status == 200)
    }
}

extension UpstreamTLSTests {
    /// A runtime weight change rebuilds the snapshot; it must reuse the TLS context loaded at
    /// start, not reload `ca_file` and fall back to plaintext when that fails.
    @Test func aRuntimeWeightChangeKeepsUpstreamTLSWhenTheCAFileIsGone() throws {
        let dir = NSTemporaryDirectory() + "sluice-utls-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (cert, key) = try TLSTests.certificate("backend.internal", in: dir)
        let ca = "\(dir)/ca.pem"
        try FileManager.default.copyItem(atPath: cert, toPath: ca)
        let app = try backend("app1")
        let tlsBackend = try ProxyFixture(
            """
            workers: 1
            access_log: { path: off }
            listeners:
              - name: tls
                listen: 127.0.0.1:0
                tls: { certificates: [ { cert: \(cert), key: \(key) } ] }
                routes: [ { cluster: app } ]
            clusters:
              - { name: app, backends: [ { address: 127.0.0.1:\(app.port) } ] }
            """)
        let front = try SluiceProcess(
            yaml: """
                workers: 1
                access_log: { path: off }
                listeners:
                  - { name: web, listen: 127.0.0.1:0, routes: [ { cluster: secure } ] }
                clusters:
                  - name: secure
                    backends: [ { name: b1, address: 127.0.0.1:\(tlsBackend.port) } ]
                    upstream_tls: { ca_file: \(ca), server_name: backend.internal }
                """)
        let port = try front.port(of: "web")
        let admin = try front.adminPort()
        // No request yet: the first one after the change needs a new backend connection.
        try FileManager.default.removeItem(atPath: ca)
        let change = try TestClient(port: admin).request(
            "PUT /clusters/secure/backends/b1/weight HTTP/1.1\r\nHost: admin\r\nContent-Length: 1\r\n\r\n3")
        #expect(change.status == 200)
        // Still TLS to the backend (its TLS hop adds the header).
        for path in ["/headers", "/headers?again"] {
            let r = try TestClient(port: port).request("GET \(path) HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            #expect(r.status == 200)
            #expect(r.text.contains("X-Forwarded-Proto: https"))
        }
    }
}
