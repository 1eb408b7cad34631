import Foundation
import SluiceSystem

/// The resolvers of a resolv.conf(5) file: its `nameserver` lines, nothing else.
///
/// Pure apart from `system()`. Search domains, `options` and the rest are ignored on purpose:
/// discovery uses names as written (docs/discovery.md). Like glibc, at most the first three
/// usable `nameserver` lines count, and a file without any means the local resolver.
package enum ResolvConf {
    /// glibc's MAXNS.
    package static let maxResolvers = 3

    /// The `nameserver` addresses of `text`, port 53, in file order. A line whose address is
    /// not a numeric IPv4 or IPv6 address is skipped, as glibc skips it; `#` and `;` start comments.
    package static func parse(_ text: String) -> [SocketAddress] {
        var out: [SocketAddress] = []
        for line in text.split(omittingEmptySubsequences: true, whereSeparator: { $0 == "\n" || $0 == "\r" }) {
            let content = line.prefix { $0 != "#" && $0 != ";" }
            let words = content.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard words.count >= 2, words[0] == "nameserver" else { continue }
            let host = words[1]
            let text = host.contains(":") ? "[\(host)]:53" : "\(host):53"
            guard let address = SocketAddress.numeric(text) else { continue }
            out.append(address)
            if out.count == maxResolvers { break }
        }
        return out
    }

    /// The resolvers of `/etc/resolv.conf` (read now, blocking: a small local file, read at
    /// start and on reload). A missing or empty file gives 127.0.0.1:53, glibc's default.
    package static func system(path: String = "/etc/resolv.conf") -> [SocketAddress] {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        let found = parse(text)
        if found.isEmpty, let local = SocketAddress.numeric("127.0.0.1:53") { return [local] }
        return found
    }
}
