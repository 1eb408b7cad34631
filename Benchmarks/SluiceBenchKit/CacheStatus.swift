/// Tells, from a response's fields, whether a cache answered it without waiting for a
/// backend. Load client, per response: a byte comparison of the name, a small String
/// only for the two cache fields. Pure; any thread.
public enum CacheStatus {
    /// nginx's `$upstream_cache_status` values that were served from the cache.
    static let servedFromCache: Set<String> = ["hit", "stale", "updating"]

    /// nil when `name` is not a cache status field; else whether the answer is a hit:
    /// `Cache-Status` (RFC 9211, Sluice) with a `hit` parameter in its last member;
    /// `X-Cache-Status` (nginx; HAProxy as the bench configures it) HIT, STALE or UPDATING.
    public static func isHit<N: Collection<UInt8>, V: Collection<UInt8>>(name: N, value: V) -> Bool? {
        if equalsLowercase(name, "cache-status") {
            let text = String(decoding: value, as: UTF8.self).lowercased()
            // The last member is the cache nearest to the client (RFC 9211 §2).
            let last = text.split(separator: ",").last ?? ""
            return last.split(separator: ";").dropFirst().contains { param in
                param.trimmingSpaces == "hit" || param.trimmingSpaces.hasPrefix("hit=")
            }
        }
        if equalsLowercase(name, "x-cache-status") {
            return servedFromCache.contains(String(decoding: value, as: UTF8.self).lowercased().trimmingSpaces)
        }
        return nil
    }

    static func equalsLowercase<N: Collection<UInt8>>(_ name: N, _ lower: StaticString) -> Bool {
        guard name.count == lower.utf8CodeUnitCount else { return false }
        return lower.withUTF8Buffer { want in
            zip(name, want).allSatisfy { $0 | 0x20 == $1 }
        }
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces and tabs.
    var trimmingSpaces: String {
        var s = Substring(self)
        while let c = s.first, c == " " || c == "\t" { s.removeFirst() }
        while let c = s.last, c == " " || c == "\t" { s.removeLast() }
        return String(s)
    }
}
