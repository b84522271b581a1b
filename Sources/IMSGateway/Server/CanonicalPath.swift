/// Whether a request target's path is in the one form the gateway serves (RFC 3986
/// section 6.2.2): it starts with `/`, has no empty segment (`//accept-images`), no trailing
/// slash (`/accept-images/`) and no dot segment (`.`, `..`, also percent-encoded as `%2e`).
/// Hummingbird's router would otherwise drop empty segments and serve such a path as the
/// canonical one.
enum CanonicalPath {
    /// Whether `target` (a request target; a query after `?` is ignored) is canonical. `/`
    /// itself is.
    static func isCanonical(_ target: some StringProtocol) -> Bool {
        let path = target.prefix(while: { $0 != "?" && $0 != "#" })
        guard path.first == "/" else { return false }
        guard path.count > 1 else { return true }
        for segment in path.dropFirst().split(separator: "/", omittingEmptySubsequences: false) {
            if segment.isEmpty { return false }
            if dotSegments.contains(segment.lowercased()) { return false }
        }
        return true
    }

    /// `.` and `..`, each dot also percent-encoded (RFC 3986 section 2.3: `%2E` is `.`).
    private static let dotSegments: Set<String> = [".", "..", "%2e", "%2e%2e", ".%2e", "%2e."]
}
