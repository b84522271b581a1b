/// The routes the gateway serves, as a table apart from the router: the `Allow` field of a
/// 405 and the `route` label of the request metrics come from it, since Hummingbird's router
/// answers a known path with an unknown method exactly as an unknown path (and labels both
/// `NotFound`).
enum GatewayRoutes {
    /// One route: its pattern as Hummingbird names it (`/accept-images/{requestID}`) and the
    /// methods it serves.
    struct Route: Sendable, Equatable {
        /// The router's pattern, the metric label of the route.
        let pattern: String
        /// The methods served, as the value of an `Allow` field (`HEAD` wherever `GET` is, as
        /// the router generates it).
        let allow: String
    }

    /// The metric label of every request that matched no route (unknown or non-canonical
    /// path, or a method no route of a path serves that the table does not know).
    static let unknownRoute = "unknown"

    /// The route serving `path` (a canonical path, without query), whatever the method; nil
    /// for a path the gateway does not serve.
    static func route(for path: some StringProtocol) -> Route? {
        switch path {
        case "/accept-images", "/reject-images", "/browser-tokens":
            return Route(pattern: String(path), allow: "POST")
        case "/healthz", "/readyz", "/metrics":
            return Route(pattern: String(path), allow: "GET, HEAD")
        default:
            for prefix in ["/accept-images/", "/reject-images/"] where path.hasPrefix(prefix) {
                let rest = path.dropFirst(prefix.count).split(separator: "/", omittingEmptySubsequences: false)
                if rest.count == 1, !rest[0].isEmpty { return Route(pattern: prefix + "{requestID}", allow: "GET, HEAD") }
                if rest.count == 2, !rest[0].isEmpty, rest[1] == "events" {
                    return Route(pattern: prefix + "{requestID}/events", allow: "GET, HEAD")
                }
                return nil
            }
            return nil
        }
    }

    /// The `route` label of an answer: the route the router matched, the route of the path
    /// for a 405, else ``unknownRoute``; never the raw path, so that hostile paths cannot
    /// create label values.
    /// - Parameters:
    ///   - endpointPath: the pattern the router matched (Hummingbird's `endpointPath`; its
    ///     `NotFound` marker or nil when none matched).
    ///   - target: the request target as sent.
    ///   - status: the answer's status code.
    static func metricLabel(endpointPath: String?, target: some StringProtocol, status: Int) -> String {
        guard CanonicalPath.isCanonical(target) else { return unknownRoute }
        if let endpointPath, endpointPath.hasPrefix("/") { return endpointPath }
        if status == 405, let route = route(for: target.prefix(while: { $0 != "?" })) { return route.pattern }
        return unknownRoute
    }
}
