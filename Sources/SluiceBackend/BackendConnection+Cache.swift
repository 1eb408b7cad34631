import Foundation

/// Cacheable answers of the built-in backend (`BackendBehavior.maxAge`): freshness and
/// validators on every 200, and a 304 to a conditional request that matches them, so a
/// cache in front can revalidate. Loop thread only; one scan of the request's fields per
/// request (this is the bench's backend, not the proxy's hot path).
extension BackendConnection {
    /// Every answer's `Last-Modified`: the content never changes.
    static let lastModified = "Mon, 01 Dec 2025 00:00:00 GMT"

    /// A strong ETag derived from the path (FNV-1a), so each URL has its own.
    static func etag(for path: String) -> String {
        var h: UInt32 = 2_166_136_261
        for b in path.utf8 { h = (h ^ UInt32(b)) &* 16_777_619 }
        return "\"v1-" + String(h, radix: 16) + "\""
    }

    /// The header lines a cacheable answer of `path` carries.
    static func cacheHeaders(path: String, maxAge: Int) -> String {
        "Cache-Control: max-age=\(maxAge)\r\nETag: \(etag(for: path))\r\nLast-Modified: \(lastModified)\r\n"
    }

    /// Whether a request with these validators gets a 304: If-None-Match naming the ETag
    /// (or `*`) wins; without it, any If-Modified-Since does (nothing is ever modified).
    static func notModified(ifNoneMatch: String?, ifModifiedSince: String?, etag: String) -> Bool {
        if let inm = ifNoneMatch {
            return inm.split(separator: ",").contains { tag in
                let t = tag.trimmingCharacters(in: .whitespaces)
                return t == "*" || t == etag || t == "W/" + etag
            }
        }
        return ifModifiedSince != nil
    }

    /// The value of the request field `lowercaseName`, or nil.
    func requestField(_ lowercaseName: String) -> String? {
        let want = Array(lowercaseName.utf8)
        for f in head.fields where Int(f.nameEnd - f.nameStart) == want.count {
            let start = Int(f.nameStart)
            var same = true
            for i in 0..<want.count where headText[start + i] | 0x20 != want[i] {
                same = false
                break
            }
            if same { return String(decoding: headText[Int(f.valueStart)..<Int(f.valueEnd)], as: UTF8.self) }
        }
        return nil
    }

    /// A 200 with freshness and validators, or a 304 when the request's validators match.
    func answerCacheable(maxAge: Int, bodySize: Int) {
        let extra = Self.cacheHeaders(path: path, maxAge: maxAge)
        let matched = Self.notModified(
            ifNoneMatch: requestField("if-none-match"), ifModifiedSince: requestField("if-modified-since"),
            etag: Self.etag(for: path))
        guard matched else {
            startGenerating(bodySize, chunked: false, extraHeaders: extra)
            return
        }
        owner.notModified.wrappingAdd(1, ordering: .relaxed)
        var h = "HTTP/1.1 304 Not Modified\r\nX-Backend: \(owner.name)\r\n" + extra
        if !keepAlive { h += "Connection: close\r\n" }
        outBuf.append(string: h + "\r\n")
        finishRequest()
    }
}
