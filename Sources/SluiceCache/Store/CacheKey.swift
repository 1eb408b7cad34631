/// The primary cache key (RFC 9111 §4.1 without Vary): the request's host, lowercased and
/// without its port, a space, then the request target's path and query as sent. The
/// request path builds it into a reused buffer (`ClientConnection.prepareCache`); the
/// purge API matches it here.
public enum CacheKey {
    /// A test of keys for `host` (nil: any) and a path prefix.
    public static func matcher(host: String?, pathPrefix: String) -> @Sendable ([UInt8]) -> Bool {
        let h = host.map { Array($0.utf8) }
        let prefix = Array(pathPrefix.utf8)
        return { key in
            guard let space = key.firstIndex(of: 0x20) else { return false }
            if let h, !key[..<space].elementsEqual(h) { return false }
            return key[(space + 1)...].starts(with: prefix)
        }
    }
}
