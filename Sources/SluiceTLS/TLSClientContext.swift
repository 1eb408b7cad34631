import COpenSSL

/// The client side of TLS to a cluster's backends (`upstream_tls`): one `SSL_CTX` that
/// verifies backends against `ca_file` (or the system store) unless `verify` is off.
///
/// Built on the control thread; read-only afterwards, so workers share it.
package final class TLSClientContext: @unchecked Sendable {
    let ctx: OpaquePointer
    package let verify: Bool

    package init(caFile: String?, verify: Bool) throws(TLSError) {
        ERR_clear_error()
        guard let c = SSL_CTX_new(TLS_client_method()) else { throw TLSError.fromQueue("SSL_CTX_new") }
        ctx = c
        self.verify = verify
        _ = COpenSSL_SSL_CTX_set_min_proto_version(ctx, COpenSSL_TLS1_2_VERSION())
        _ = COpenSSL_SSL_CTX_set_mode(ctx, COpenSSL_SSL_MODE_FLAGS())
        if verify {
            let loaded = caFile.map { SSL_CTX_load_verify_locations(ctx, $0, nil) } ?? SSL_CTX_set_default_verify_paths(ctx)
            // No SSL_CTX_free here: every property is set, so deinit runs when init throws.
            guard loaded == 1 else { throw TLSError.fromQueue("cannot load CA \(caFile ?? "(system store)")") }
            SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nil)
        } else {
            SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nil)
        }
    }

    deinit { SSL_CTX_free(ctx) }
}

extension TLSConnection {
    /// A client connection to a backend: SNI `serverName`, and (when verifying) the
    /// certificate must name it.
    package convenience init(client context: TLSClientContext, fd: Int32, serverName: String) throws(TLSError) {
        try self.init(sslContext: context.ctx, fd: fd, server: false)
        _ = COpenSSL_SSL_set_tlsext_host_name(ssl, serverName)
        if context.verify { SSL_set1_host(ssl, serverName) }
    }
}
