import Foundation

/// The parts of an absolute URL the signer needs, taken from the text as it is sent
/// (no normalisation, no re-encoding).
struct SigningURL {
    /// `host` or `host:port`, without user info.
    var authority: String
    /// The path as written, `/` when the URL has none.
    var path: String
    /// The query as written, without `?`; `nil` when there is no `?`.
    var query: String?

    /// Splits `url`; `nil` when it has no `scheme://` or an empty host.
    init?(_ url: String) {
        guard let schemeEnd = url.range(of: "://") else { return nil }
        var rest = url[schemeEnd.upperBound...]
        if let fragment = rest.firstIndex(of: "#") { rest = rest[..<fragment] }
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
        var authority = rest[..<authorityEnd]
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
        guard !authority.isEmpty else { return nil }
        self.authority = String(authority)
        let target = rest[authorityEnd...]
        if let question = target.firstIndex(of: "?") {
            path = String(target[..<question])
            query = String(target[target.index(after: question)...])
        } else {
            path = String(target)
            query = nil
        }
        if path.isEmpty { path = "/" }
    }
}
