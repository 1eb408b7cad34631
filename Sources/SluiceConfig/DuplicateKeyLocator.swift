/// Finds the line of a repeated mapping key, which Yams reports only by its first occurrence.
///
/// Yams refuses a mapping with a repeated key before any node exists, giving the key's name
/// and the mark of its first occurrence. This scans the text after that mark for the second
/// occurrence in the same mapping: in block style a line at the same column before the
/// mapping ends (a less indented line), in flow style the next `, key:` in the braces.
enum DuplicateKeyLocator {
    /// The 1-based line of the repeat of `key` first seen at 1-based `line`, `column`; nil if not found.
    static func line(of key: String, firstLine line: Int, column: Int, in yaml: String) -> Int? {
        let lines = yaml.split(separator: "\n", omittingEmptySubsequences: false).map { Array($0.unicodeScalars) }
        guard line >= 1, line <= lines.count, column >= 1 else { return nil }
        let first = lines[line - 1]
        let start = column - 1
        guard start < first.count else { return nil }
        // Flow style: the key's mapping opened with `{` before it on its line.
        if first[..<start].contains(where: { $0 == "{" }) && !first[..<start].contains(where: { $0 == "}" }) {
            return flowRepeat(of: key, lines: lines, line: line - 1, from: start + 1)
        }
        for i in line..<lines.count {
            let text = lines[i]
            guard let indent = text.firstIndex(where: { $0 != " " }), text[indent] != "#" else { continue }
            if indent < start { return nil }
            if indent == start && startsWithKey(key, text, at: indent) { return i + 1 }
        }
        return nil
    }

    /// `key`, plain or quoted, then optional spaces and a colon, at `at` in `text`.
    static func startsWithKey(_ key: String, _ text: [Unicode.Scalar], at: Int) -> Bool {
        for form in [key, "\"\(key)\"", "'\(key)'"] {
            let k = Array(form.unicodeScalars)
            guard at + k.count <= text.count, Array(text[at..<(at + k.count)]) == k else { continue }
            var j = at + k.count
            while j < text.count, text[j] == " " { j += 1 }
            if j < text.count, text[j] == ":" { return true }
        }
        return false
    }

    /// In a flow mapping: the next `key:` that follows a comma at the same brace depth.
    static func flowRepeat(of key: String, lines: [[Unicode.Scalar]], line: Int, from: Int) -> Int? {
        var depth = 0
        var afterComma = false
        var i = line
        var j = from
        while i < lines.count {
            let text = lines[i]
            while j < text.count {
                let c = text[j]
                switch c {
                case "{", "[":
                    depth += 1
                case "}", "]":
                    if depth == 0 { return nil }
                    depth -= 1
                case ",":
                    if depth == 0 { afterComma = true }
                case " ":
                    break
                default:
                    if afterComma && depth == 0 && startsWithKey(key, text, at: j) { return i + 1 }
                    afterComma = false
                }
                j += 1
            }
            i += 1
            j = 0
        }
        return nil
    }
}
