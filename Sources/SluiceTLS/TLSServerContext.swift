import COpenSSL

/// A TLS failure with OpenSSL's error queue as text.
package struct TLSError: Error, CustomStringConvertible, Sendable {
    package let message: String
    package var description: String { message }

    package init(message: String) { self.message = message }

    /// Drains OpenSSL's error queue into one message.
    static func fromQueue(_ what: String) -> TLSError {
        var parts: [String] = []
        while case let code = ERR_get_error(), code != 0 {
            var buf = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buf, buf.count)
            let end = buf.firstIndex(of: 0) ?? buf.count
            parts.append(String(decoding: buf[..<end].map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return TLSError(message: parts.isEmpty ? what : "\(what): \(parts.joined(separator: "; "))")
    }
}

/// The server side of a TLS listener: one `SSL_CTX` per certificate; SNI picks the one whose
/// certificate names the requested host (X509_check_host), the first is the default.
///
/// Built on the control thread; read-only afterwards, so workers share it.
package final class TLSServerContext: @unchecked Sendable {
    struct Entry {
        let ctx: OpaquePointer
        let cert: OpaquePointer
    }

    let entries: [Entry]
    /// Each certificate's notAfter, seconds since the epoch, with its subject name.
    package let expiries: [(name: String, notAfter: Int)]

    /// `certificates` are PEM (cert, key) file pairs; `minVersion` is "1.2" or "1.3".
    package init(certificates: [(cert: String, key: String)], minVersion: String) throws(TLSError) {
        var list: [Entry] = []
        var exp: [(String, Int)] = []
        for (certFile, keyFile) in certificates {
            ERR_clear_error()
            guard let ctx = SSL_CTX_new(TLS_server_method()) else { throw TLSError.fromQueue("SSL_CTX_new") }
            let version = minVersion == "1.3" ? COpenSSL_TLS1_3_VERSION() : COpenSSL_TLS1_2_VERSION()
            _ = COpenSSL_SSL_CTX_set_min_proto_version(ctx, version)
            _ = COpenSSL_SSL_CTX_set_mode(ctx, COpenSSL_SSL_MODE_FLAGS())
            _ = COpenSSL_SSL_CTX_set_options(ctx, COpenSSL_SSL_OP_FLAGS())
            // A modern profile (Mozilla "intermediate" for TLS 1.2; TLS 1.3 suites are OpenSSL's defaults).
            _ = SSL_CTX_set_cipher_list(
                ctx,
                "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
                    + "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305")
            // Key exchange: X25519, P-256, P-384 only (OpenSSL's defaults would let a client pick
            // FFDHE up to 8192 bits in TLS 1.3, which the Mozilla intermediate profile excludes).
            _ = COpenSSL_SSL_CTX_set1_groups_list(ctx, Self.groups)
            // Session-ID resumption: one cache per listener (in the first certificate's context,
            // where OpenSSL keeps it across the SNI switch), under one id context for all of them.
            _ = SSL_CTX_set_session_id_context(ctx, Self.sessionIDContext, UInt32(Self.sessionIDContext.count))
            SSL_CTX_set_alpn_select_cb(ctx, alpnCallback, nil)
            guard SSL_CTX_use_certificate_chain_file(ctx, certFile) == 1 else {
                SSL_CTX_free(ctx)
                throw TLSError.fromQueue("cannot load certificate \(certFile)")
            }
            guard SSL_CTX_use_PrivateKey_file(ctx, keyFile, SSL_FILETYPE_PEM) == 1 else {
                SSL_CTX_free(ctx)
                throw TLSError.fromQueue("cannot load key \(keyFile)")
            }
            guard SSL_CTX_check_private_key(ctx) == 1 else {
                SSL_CTX_free(ctx)
                throw TLSError.fromQueue("key \(keyFile) does not match certificate \(certFile)")
            }
            guard let cert = SSL_CTX_get0_certificate(ctx) else {
                SSL_CTX_free(ctx)
                throw TLSError.fromQueue("no certificate in \(certFile)")
            }
            list.append(Entry(ctx: ctx, cert: cert))
            exp.append((Self.subjectName(cert), Self.notAfter(cert)))
        }
        guard !list.isEmpty else { throw TLSError(message: "no certificate configured") }
        entries = list
        expiries = exp
        let me = Unmanaged.passUnretained(self).toOpaque()
        for e in entries {
            _ = COpenSSL_SSL_CTX_set_tlsext_servername_callback(e.ctx, sniCallback)
            _ = COpenSSL_SSL_CTX_set_tlsext_servername_arg(e.ctx, me)
        }
    }

    deinit {
        for e in entries { SSL_CTX_free(e.ctx) }
    }

    static let groups = "X25519:P-256:P-384"
    static let sessionIDContext: [UInt8] = Array("sluice".utf8)

    var defaultContext: OpaquePointer { entries[0].ctx }

    /// The context whose certificate names `host`, or nil (keep the default).
    func context(for host: String) -> OpaquePointer? {
        for e in entries.dropFirst() where X509_check_host(e.cert, host, host.utf8.count, 0, nil) == 1 {
            return e.ctx
        }
        return nil
    }

    static func subjectName(_ cert: OpaquePointer) -> String {
        guard let name = X509_get_subject_name(cert) else { return "" }
        var buf = [CChar](repeating: 0, count: 256)
        X509_NAME_oneline(name, &buf, Int32(buf.count))
        let end = buf.firstIndex(of: 0) ?? buf.count
        return String(decoding: buf[..<end].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func notAfter(_ cert: OpaquePointer) -> Int {
        guard let t = X509_get0_notAfter(cert) else { return 0 }
        var tm = tm()
        guard ASN1_TIME_to_tm(t, &tm) == 1 else { return 0 }
        return Int(timegm(&tm))
    }
}

/// ALPN (RFC 7301): select `http/1.1` when the client offers it; otherwise answer without ALPN
/// (the only protocol spoken here is HTTP/1.1, so a client offering just h2 decides for itself).
private func alpnCallback(
    _ ssl: OpaquePointer?, _ out: UnsafeMutablePointer<UnsafePointer<UInt8>?>?, _ outLength: UnsafeMutablePointer<UInt8>?,
    _ offered: UnsafePointer<UInt8>?, _ offeredLength: UInt32, _ arg: UnsafeMutableRawPointer?
) -> Int32 {
    guard let out, let outLength, let offered else { return SSL_TLSEXT_ERR_NOACK }
    let want = Array("http/1.1".utf8)
    var i = 0
    let n = Int(offeredLength)
    while i < n {
        let length = Int(offered[i])
        let start = i + 1
        guard start + length <= n else { break }
        if length == want.count && (0..<length).allSatisfy({ offered[start + $0] == want[$0] }) {
            out.pointee = offered + start  // points into the ClientHello, valid for the handshake
            outLength.pointee = UInt8(length)
            return COpenSSL_SSL_TLSEXT_ERR_OK()
        }
        i = start + length
    }
    return SSL_TLSEXT_ERR_NOACK
}

/// SNI: switch the connection to the certificate that names the requested host.
private func sniCallback(_ ssl: OpaquePointer?, _ alert: UnsafeMutablePointer<Int32>?, _ arg: UnsafeMutableRawPointer?) -> Int32 {
    guard let ssl, let arg, let raw = SSL_get_servername(ssl, COpenSSL_TLSEXT_NAMETYPE_host_name()) else {
        return COpenSSL_SSL_TLSEXT_ERR_OK()
    }
    let context = Unmanaged<TLSServerContext>.fromOpaque(arg).takeUnretainedValue()
    if let ctx = context.context(for: String(cString: raw)) { SSL_set_SSL_CTX(ssl, ctx) }
    return COpenSSL_SSL_TLSEXT_ERR_OK()
}
