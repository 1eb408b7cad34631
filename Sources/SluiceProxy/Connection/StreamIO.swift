import SluiceSystem
import SluiceTLS

/// What one read on a connection did, plain or through TLS.
enum StreamRead {
    /// `count` bytes arrived; `drained` when the socket has nothing more now (a short plain
    /// read). Never set for TLS: OpenSSL may hold decrypted bytes the socket no longer shows.
    case data(count: Int, drained: Bool)
    /// The peer ended the stream (EOF or TLS close).
    case end
    case error
    case wouldBlock
    /// TLS needs the socket writable first.
    case wantWrite
}

/// What one write on a connection did, plain or through TLS.
enum StreamWrite {
    case wrote(Int)
    case wouldBlock
    /// TLS needs to read first (renegotiation is off, so not expected).
    case wantRead
    case error
}

/// Where a TLS handshake stands after one step.
enum StreamHandshake {
    case done
    /// Waiting for the socket: readable, or writable (`wantWrite`: watch EPOLLOUT).
    case wantRead, wantWrite
    case failed
}

/// Reads and writes for client and backend connections alike, so plain sockets and TLS
/// sessions are told apart in one place. Loop thread; no allocation.
enum StreamIO {
    @inline(__always)
    static func read(_ fd: Int32, _ tls: TLSConnection?, _ p: UnsafeMutableRawPointer, _ count: Int) -> StreamRead {
        if let t = tls {
            switch t.read(p, count) {
            case .done(let n): return .data(count: n, drained: false)
            case .wantRead: return .wouldBlock
            case .wantWrite: return .wantWrite
            case .closed: return .end
            case .failed: return .error
            }
        }
        do {
            switch try Socket.read(fd, p, count) {
            case .done(0): return .end
            case .done(let n): return .data(count: n, drained: n < count)
            case .wouldBlock: return .wouldBlock
            }
        } catch {
            return .error
        }
    }

    @inline(__always)
    static func write(_ fd: Int32, _ tls: TLSConnection?, _ p: UnsafeRawPointer, _ count: Int) -> StreamWrite {
        if let t = tls {
            switch t.write(p, count) {
            case .done(let n): return .wrote(n)
            case .wantWrite: return .wouldBlock
            case .wantRead: return .wantRead
            case .closed, .failed: return .error
            }
        }
        do {
            switch try Socket.write(fd, p, count) {
            case .done(let n): return .wrote(n)
            case .wouldBlock: return .wouldBlock
            }
        } catch {
            return .error
        }
    }

    /// One step of a TLS handshake, the same for client connections, backend connections and
    /// health checks.
    @inline(__always)
    static func handshake(_ t: TLSConnection) -> StreamHandshake {
        switch t.handshake() {
        case .done: return .done
        case .wantRead: return .wantRead
        case .wantWrite: return .wantWrite
        case .closed, .failed: return .failed
        }
    }
}
