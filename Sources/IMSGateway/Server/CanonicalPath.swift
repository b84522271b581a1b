/// Whether a request target's path is in the one form the gateway serves (RFC 3986
/// section 6.2.2): it starts with `/`, has no empty segment (`//accept-images`), no trailing
/// slash (`/accept-images/`) and no dot segment (`.`, `..`, also percent-encoded as `%2e`).
/// Hummingbird's router would otherwise drop empty segments and serve such a path as the
/// canonical one.
enum CanonicalPath {
    /// Whether `target` (a request target; a query after `?` is ignored) is canonical. `/`
    /// itself is.
    static func isCanonical(_ target: some StringProtocol) -> Bool {
        let bytes = target.utf8
        let end = bytes.firstIndex { $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") } ?? bytes.endIndex
        let path = bytes[..<end]
        guard path.first == UInt8(ascii: "/") else { return false }
        guard path.count > 1 else { return true }
        for segment in path.dropFirst().split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false) {
            if segment.isEmpty || isDotSegment(segment) { return false }
        }
        return true
    }

    /// `.` or `..`, each dot also percent-encoded (RFC 3986 section 2.3: `%2E` or `%2e` is `.`).
    private static func isDotSegment(_ segment: some Collection<UInt8>) -> Bool {
        var rest = segment[...]
        var dots = 0
        while !rest.isEmpty {
            if rest.first == UInt8(ascii: ".") {
                rest = rest.dropFirst()
            } else if rest.count >= 3, rest.first == UInt8(ascii: "%"), rest.dropFirst().first == UInt8(ascii: "2"),
                rest.dropFirst(2).first.map({ $0 | 0x20 }) == UInt8(ascii: "e")
            {
                rest = rest.dropFirst(3)
            } else {
                return false
            }
            dots += 1
            if dots > 2 { return false }
        }
        return dots > 0
    }
}
