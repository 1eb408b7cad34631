/// One configuration problem, printed as `FILE:LINE: message` (like `nginx -t`).
public struct ConfigError: Error, Sendable, CustomStringConvertible, Equatable {
    public let file: String
    public let line: Int
    public let message: String

    /// Control characters in `message` (it quotes values from the file) are escaped, so that
    /// one error stays one line of `sluice check`'s output.
    public init(file: String, line: Int, message: String) {
        self.file = file
        self.line = line
        self.message = Self.oneLine(message)
    }

    public var description: String { "\(file):\(line): \(message)" }

    static func oneLine(_ text: String) -> String {
        func isControl(_ u: Unicode.Scalar) -> Bool {
            (u.value < 0x20 && u != "\t") || (0x7F...0x9F).contains(u.value) || u.value == 0x2028 || u.value == 0x2029
        }
        guard text.unicodeScalars.contains(where: isControl) else { return text }
        var out = String.UnicodeScalarView()
        for u in text.unicodeScalars {
            switch u {
            case "\n": out.append(contentsOf: "\\n".unicodeScalars)
            case "\r": out.append(contentsOf: "\\r".unicodeScalars)
            case _ where isControl(u): out.append(contentsOf: "\\u{\(String(u.value, radix: 16))}".unicodeScalars)
            default: out.append(u)
            }
        }
        return String(out)
    }
}

/// Every problem found in one configuration file; decoding goes on past the first.
public struct ConfigErrors: Error, Sendable, CustomStringConvertible {
    public let errors: [ConfigError]
    public var description: String { errors.map(\.description).joined(separator: "\n") }
}
