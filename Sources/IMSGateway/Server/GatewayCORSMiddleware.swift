import HTTPTypes
import Hummingbird

/// CORS for the origins of `cors.allowedOrigins` (docs/ARCHITECTURE.md, "Portals"): Hummingbird's
/// `CORSMiddleware` with `.oneOf` (never `.originBased`, which reflects any origin), one per
/// listed origin (its `oneOf` takes a variadic list, so each is made for one origin and picked
/// by the request's `Origin`), plus what it lacks:
/// - `Access-Control-Expose-Headers` on real answers too (it sends it only on preflights), so
///   that a page can read `Location`, `Retry-After`, the rate-limit fields and the rest;
/// - `Vary: Origin` on every answer, also without an `Origin` (a cache must not serve an answer
///   made for one origin to another);
/// - problems (401, 404, 429...) carry the same headers: they are made into answers here.
///
/// Preflights (`OPTIONS` with `Origin`) are answered here, before authentication, 204 with
/// `Access-Control-Allow-Methods: POST, GET`, the allowed headers and
/// `Access-Control-Max-Age`. An unlisted origin gets no `Access-Control-Allow-Origin`, ever.
struct GatewayCORSMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext

    /// The request headers a page may send.
    static let allowedHeaders: [HTTPField.Name] = [
        .authorization, .contentType, .accept, HTTPField.Name("Idempotency-Key")!, HTTPField.Name("Prefer")!,
        HTTPField.Name("Last-Event-ID")!, HTTPField.Name("X-Request-Id")!,
    ]
    /// The answer headers a page may read.
    static let exposedHeaders = [
        "Location", "Retry-After", "RateLimit", "RateLimit-Policy", "Preference-Applied", "X-Request-Id", "Idempotent-Replayed",
    ]

    private let byOrigin: [String: CORSMiddleware<Context>]
    private let unlisted: CORSMiddleware<Context>
    private let exposed: String
    private let metrics: GatewayMetrics

    /// - Parameters:
    ///   - origins: the exact origins allowed (`scheme://host[:port]`).
    ///   - maxAgeSeconds: how long a browser may keep a preflight's answer.
    ///   - metrics: where preflights are counted (`imsgw_cors_preflights_total`).
    init(origins: [String], maxAgeSeconds: Int, metrics: GatewayMetrics) {
        self.metrics = metrics
        var byOrigin: [String: CORSMiddleware<Context>] = [:]
        for origin in origins {
            byOrigin[origin] = CORSMiddleware(
                allowOrigin: .oneOf(origin), allowHeaders: Self.allowedHeaders, allowMethods: [.post, .get],
                allowCredentials: false, exposedHeaders: Self.exposedHeaders, maxAge: .seconds(Int64(maxAgeSeconds)))
        }
        self.byOrigin = byOrigin
        unlisted = CORSMiddleware(allowOrigin: .none, allowHeaders: Self.allowedHeaders, allowMethods: [.post, .get])
        exposed = Self.exposedHeaders.joined(separator: ", ")
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let origin = request.headers[.origin]
        let listed = origin.flatMap { byOrigin[$0] }
        if origin != nil, request.method == .options { metrics.corsPreflight(listed: listed != nil) }
        var response: Response
        do {
            response = try await (listed ?? unlisted).handle(request, context: context, next: next)
        } catch let error as any HTTPResponseError {
            response = try error.response(from: request, context: context)
        }
        if listed != nil, request.method != .options {
            response.headers[.accessControlExposeHeaders] = exposed
        }
        if !response.headers[values: .vary].contains(where: { $0.lowercased().contains("origin") }) {
            response.headers[values: .vary].append("Origin")
        }
        return response
    }
}
