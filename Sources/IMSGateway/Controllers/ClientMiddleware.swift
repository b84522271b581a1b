import Foundation
import HTTPTypes
import Hummingbird
import IMSClient

/// Who calls, and how often (docs/ARCHITECTURE.md, "Callers and their limits"): finds the client of
/// `Authorization: Bearer <key>` (401 with `WWW-Authenticate: Bearer` when missing or unknown),
/// takes one token from its bucket (429 with `Retry-After` when empty) and puts
/// `RateLimit-Policy` and `RateLimit` on every answer to it, errors included.
///
/// A bearer credential that is no client's key and has the shape of a JWT is taken for a
/// browser token (``BrowserTokens``): accepted only when this gateway signed it and it has not
/// expired (401 otherwise), only from the page origin it names (403 `origin-not-allowed`), and
/// only for the projects it names that its client may still use; it counts against its
/// client's rate limit like the client's own calls.
struct ClientMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext
    let authentication: ClientAuthentication
    let limiter: ClientRateLimiter<ContinuousClock>
    /// The buckets shared by every replica (a PostgreSQL store); nil: `limiter` alone.
    var shared: SharedClientBuckets? = nil
    /// Browser tokens, when `browserTokens.secret` is set.
    var browserTokens: BrowserTokens? = nil
    let metrics: GatewayMetrics
    let log: RequestLog

    static let realm = #"Bearer realm="ims-gateway""#

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        var context = context
        let rateLimitFields = try await admitted(request, context: &context)
        do {
            var response = try await next(request, context)
            response.headers.append(contentsOf: rateLimitFields)
            return response
        } catch {
            throw Self.adding(rateLimitFields, to: error)
        }
    }

    /// Authenticates the request and takes a token of its client's bucket; sets the context's
    /// client and browser-token origin. Out of line: its temporaries would otherwise stay in the
    /// frame of ``handle(_:context:next:)``, which every waiting caller keeps (BENCHMARKS.md,
    /// "Memory per waiting caller").
    /// - Returns: the `RateLimit-Policy` and `RateLimit` fields for the answer.
    /// - Throws: ``GatewayProblem`` 401 or 403 (see ``authenticate(_:context:)``), 429.
    @inline(never)
    private func admitted(_ request: Request, context: inout Context) async throws -> HTTPFields {
        let (client, origin) = try await authenticate(request, context: context)
        let rateLimitFields: HTTPFields
        if let shared {
            rateLimitFields = try Self.limited(await shared.admit(client: client.name, limit: client.rateLimit), client, context, metrics, log)
        } else {
            rateLimitFields = try Self.limited(limiter.admit(client: client.name, limit: client.rateLimit), client, context, metrics, log)
        }
        context.client = client
        context.browserTokenOrigin = origin
        return rateLimitFields
    }

    /// The client of the request.
    /// Out of line, like ``adding(_:to:)``: what they build would otherwise sit in the async frame
    /// that every request keeps while it waits (BENCHMARKS.md, "Memory with 10,000 waiting callers").
    /// - Returns: the client, and the page origin when it came with a browser token.
    /// - Throws: ``GatewayProblem`` 401 (no or unknown key, an invalid or expired browser
    ///   token), 403 (a browser token from another origin).
    @inline(never)
    private func authenticate(_ request: Request, context: Context) async throws -> (ClientIdentity, String?) {
        switch authentication {
        case .insecureNoAuth(let rateLimit):
            return (ClientIdentity(name: ClientAuthentication.anonymousClientName, projects: .all, rateLimit: rateLimit), nil)
        case .clients(let registry):
            guard let key = Self.bearerKey(request.headers[.authorization]) else {
                throw unauthorized(
                    reason: "missing", detail: "send the client key as Authorization: Bearer <key>",
                    challenge: Self.realm, request: request, context: context)
            }
            if let known = registry.authenticate(bearerKey: key) { return (known, nil) }
            guard let browserTokens, BrowserTokens.looksLikeToken(key) else {
                throw unauthorized(
                    reason: "unknown_key", detail: "the client key is not known to the gateway",
                    challenge: Self.realm + #", error="invalid_token""#, request: request, context: context)
            }
            return try await browserClient(key, tokens: browserTokens, registry: registry, request: request, context: context)
        }
    }

    /// The client of a browser token, its projects narrowed to the token's.
    @inline(never)
    private func browserClient(
        _ token: String, tokens: BrowserTokens, registry: ClientRegistry, request: Request, context: Context
    ) async throws -> (ClientIdentity, String?) {
        let claims: BrowserTokens.Claims
        switch await tokens.verify(token) {
        case .success(let verified):
            claims = verified
        case .failure(.expired):
            throw unauthorized(
                reason: "browser_token_expired", detail: "the browser token has expired; get a new one from the portal's backend",
                challenge: Self.realm + #", error="invalid_token""#, request: request, context: context)
        case .failure(.invalid):
            throw unauthorized(
                reason: "browser_token_invalid", detail: "the browser token is not valid (malformed, or not signed by this gateway)",
                challenge: Self.realm + #", error="invalid_token""#, request: request, context: context)
        }
        guard let origin = request.headers[.origin], origin == claims.origin else {
            metrics.clientAuthFailure(reason: "origin_not_allowed")
            let sent = request.headers[.origin].map { "from origin \(InputExcerpt.of($0))" } ?? "without an Origin"
            let detail = "this browser token is for pages of \(claims.origin); the request came \(sent)"
            log.refused(status: 403, detail: detail, client: claims.client, route: context.endpointPath ?? "unknown", requestID: context.requestID)
            throw GatewayProblem(
                ProblemDetails(slug: "origin-not-allowed", title: "Origin not allowed", status: 403, detail: detail, requestID: context.requestID))
        }
        guard var client = registry.client(named: claims.client) else {
            throw unauthorized(
                reason: "browser_token_client_gone", detail: "the browser token's client is no longer known to the gateway",
                challenge: Self.realm + #", error="invalid_token""#, request: request, context: context)
        }
        // Only the token's projects, and of those only what the client may still use.
        client.projects = .only(Set(claims.projects.filter { client.allows(projectID: $0) }))
        return (client, origin)
    }

    /// The rate limit header fields of an admitted request's answer. Out of line, as above.
    /// - Throws: ``GatewayProblem`` 429 when `decision` refused it (over the client's rate).
    @inline(never)
    private static func limited(
        _ decision: RateLimitDecision, _ client: ClientIdentity, _ context: Context, _ metrics: GatewayMetrics, _ log: RequestLog
    ) throws -> HTTPFields {
        guard decision.admitted else {
            metrics.inboundRateLimited()
            let detail = "client \(client.name) is over its rate limit of \(Self.format(client.rateLimit.rate)) request(s) per second (burst \(client.rateLimit.burst)); send it again in \(decision.retryAfterSeconds) s"
            log.refused(status: 429, detail: detail, client: client.name, route: context.endpointPath ?? "unknown", requestID: context.requestID)
            throw GatewayProblem(
                ProblemDetails(slug: "rate-limited", title: "Too many requests", status: 429, detail: detail, requestID: context.requestID),
                headers: decision.headerFields)
        }
        return decision.headerFields
    }

    /// `error` with the rate limit header fields added, when it is an answer (a problem or an
    /// HTTP error); any other error as it is.
    @inline(never)
    private static func adding(_ fields: HTTPFields, to error: any Error) -> any Error {
        switch error {
        case var problem as GatewayProblem:
            problem.headers.append(contentsOf: fields)
            return problem
        case let error as HTTPError:
            var headers = error.headers
            headers.append(contentsOf: fields)
            return HTTPError(error.status, headers: headers, message: error.body)
        default:
            return error
        }
    }

    private func unauthorized(
        reason: String, detail: String, challenge: String, request: Request, context: Context
    ) -> GatewayProblem {
        metrics.clientAuthFailure(reason: reason)
        log.refused(status: 401, detail: detail, client: nil, route: context.endpointPath ?? "unknown", requestID: context.requestID)
        return GatewayProblem(
            ProblemDetails(slug: "unauthorized", title: "Unauthorized", status: 401, detail: detail, requestID: context.requestID),
            headers: [.wwwAuthenticate: challenge])
    }

    /// The key of `Authorization: Bearer <key>` (scheme in any letter case, RFC 6750), or nil.
    static func bearerKey(_ header: String?) -> String? {
        guard let header else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        let key = parts[1].trimmingWhitespace()
        return key.isEmpty ? nil : key
    }

    /// A rate without a needless `.0`.
    static func format(_ rate: Double) -> String {
        rate == rate.rounded() && abs(rate) < 1e15 ? String(Int(rate)) : String(rate)
    }
}
