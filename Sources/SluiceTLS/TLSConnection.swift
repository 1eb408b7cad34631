import COpenSSL

/// What a non-blocking TLS call did.
package enum TLSResult: Sendable, Equatable {
    case done(Int)
    /// Wait until the socket is readable (or writable) and call again.
    case wantRead
    case wantWrite
    /// The peer closed the TLS session (close_notify or EOF).
    case closed
    case failed(String)
}

/// One TLS connection (server or client end) over a non-blocking socket. Owns its `SSL`.
///
/// One thread (the worker's loop). Every call clears OpenSSL's error queue first and reads
/// it on failure, as the result's text.
package final class TLSConnection {
    let ssl: OpaquePointer
    package private(set) var handshakeDone = false
    /// A TLS error (not a plain close) ended the connection.
    private var failed = false

    /// A server connection of a TLS listener.
    package convenience init(context: TLSServerContext, fd: Int32) throws(TLSError) {
        try self.init(sslContext: context.defaultContext, fd: fd, server: true)
    }

    init(sslContext: OpaquePointer, fd: Int32, server: Bool) throws(TLSError) {
        ERR_clear_error()
        guard let s = SSL_new(sslContext) else { throw TLSError.fromQueue("SSL_new") }
        ssl = s
        SSL_set_fd(ssl, fd)
        if server { SSL_set_accept_state(ssl) } else { SSL_set_connect_state(ssl) }
    }

    /// A connection whose handshake completed and that ended without a TLS error keeps its
    /// session resumable even when the peer left without close_notify (which RFC 5246 §7.2.1
    /// allows): OpenSSL evicts the session in SSL_free unless the shutdown state says sent.
    deinit {
        if handshakeDone && !failed { SSL_set_shutdown(ssl, SSL_get_shutdown(ssl) | SSL_SENT_SHUTDOWN) }
        SSL_free(ssl)
    }

    /// The negotiated protocol, e.g. "TLSv1.3".
    package var version: String { String(cString: SSL_get_version(ssl)) }

    package func handshake() -> TLSResult {
        ERR_clear_error()
        let rc = SSL_do_handshake(ssl)
        if rc == 1 {
            handshakeDone = true
            return .done(0)
        }
        return outcome(rc, "handshake")
    }

    /// Reads decrypted bytes. Call again until `.wantRead`: OpenSSL may hold more than the socket shows.
    package func read(_ buffer: UnsafeMutableRawPointer, _ count: Int) -> TLSResult {
        ERR_clear_error()
        let n = SSL_read(ssl, buffer, Int32(min(count, Int(Int32.max))))
        if n > 0 { return .done(Int(n)) }
        return outcome(n, "read")
    }

    package func write(_ buffer: UnsafeRawPointer, _ count: Int) -> TLSResult {
        ERR_clear_error()
        let n = SSL_write(ssl, buffer, Int32(min(count, Int(Int32.max))))
        if n > 0 { return .done(Int(n)) }
        return outcome(n, "write")
    }

    /// Sends close_notify (best effort, non-blocking).
    package func shutdown() {
        ERR_clear_error()
        _ = SSL_shutdown(ssl)
    }

    private func outcome(_ rc: Int32, _ what: String) -> TLSResult {
        switch SSL_get_error(ssl, rc) {
        case SSL_ERROR_WANT_READ: return .wantRead
        case SSL_ERROR_WANT_WRITE: return .wantWrite
        case SSL_ERROR_ZERO_RETURN: return .closed
        case SSL_ERROR_SYSCALL:
            let e = TLSError.fromQueue(what)
            if e.message == what { return .closed }
            failed = true
            return .failed(e.message)
        default:
            failed = true
            return .failed(TLSError.fromQueue(what).message)
        }
    }
}
