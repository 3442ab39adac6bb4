/// Trimming as Foundation's `trimmingCharacters(in:)` did (FoundationEssentials
/// has no CharacterSet API for it): for the host's own text, a command's
/// output or a /proc file, never guest bytes.
extension StringProtocol {
    /// Without the leading and trailing scalars `drop` selects.
    public func trimmed(where drop: (Unicode.Scalar) -> Bool) -> String {
        let s = unicodeScalars
        guard let first = s.firstIndex(where: { !drop($0) }), let last = s.lastIndex(where: { !drop($0) }) else { return "" }
        var out = String.UnicodeScalarView()
        out.append(contentsOf: s[first...last])
        return String(out)
    }

    /// CharacterSet.whitespacesAndNewlines: Unicode's White_Space.
    public func trimmingWhitespace() -> String { trimmed { $0.properties.isWhitespace } }

    /// CharacterSet.newlines: U+000A-U+000D, U+0085, U+2028, U+2029.
    public func trimmingNewlines() -> String {
        trimmed { (0x0a...0x0d).contains($0.value) || $0.value == 0x85 || $0.value == 0x2028 || $0.value == 0x2029 }
    }
}
