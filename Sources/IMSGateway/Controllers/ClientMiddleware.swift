import Foundation
import HTTPTypes
import Hummingbird

/// Who calls, and how often (docs/ARCHITECTURE.md, "Callers and their limits"): finds the client of
/// `Authorization: Bearer <key>` (401 with `WWW-Authenticate: Bearer` when missing or unknown),
/// takes one token from its bucket (429 with `Retry-After` when empty) and puts
/// `RateLimit-Policy` and `RateLimit` on every answer to it, errors included.
struct ClientMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext
    let authentication: ClientAuthentication
    let limiter: ClientRateLimiter<ContinuousClock>
    let metrics: GatewayMetrics
    let log: RequestLog

    static let realm = #"Bearer realm="ims-gateway""#

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let (client, rateLimitFields) = try admit(request, context: context)
        var context = context
        context.client = client
        do {
            var response = try await next(request, context)
            response.headers.append(contentsOf: rateLimitFields)
            return response
        } catch {
            throw Self.adding(rateLimitFields, to: error)
        }
    }

    /// The client of the request and the rate limit header fields of its answer.
    /// Out of line, like ``adding(_:to:)``: what they build would otherwise sit in the async frame
    /// that every request keeps while it waits (BENCHMARKS.md, "Memory with 10,000 waiting callers").
    /// - Throws: ``GatewayProblem`` 401 (no or unknown key) or 429 (over the client's rate).
    @inline(never)
    private func admit(_ request: Request, context: Context) throws -> (ClientIdentity, HTTPFields) {
        let client: ClientIdentity
        switch authentication {
        case .insecureNoAuth(let rateLimit):
            client = ClientIdentity(name: ClientAuthentication.anonymousClientName, projects: .all, rateLimit: rateLimit)
        case .clients(let registry):
            guard let key = Self.bearerKey(request.headers[.authorization]) else {
                throw unauthorized(
                    reason: "missing", detail: "send the client key as Authorization: Bearer <key>",
                    challenge: Self.realm, request: request, context: context)
            }
            guard let known = registry.authenticate(bearerKey: key) else {
                throw unauthorized(
                    reason: "unknown_key", detail: "the client key is not known to the gateway",
                    challenge: Self.realm + #", error="invalid_token""#, request: request, context: context)
            }
            client = known
        }

        let decision = limiter.admit(client: client.name, limit: client.rateLimit)
        guard decision.admitted else {
            metrics.inboundRateLimited()
            let detail = "client \(client.name) is over its rate limit of \(Self.format(client.rateLimit.rate)) request(s) per second (burst \(client.rateLimit.burst)); send it again in \(decision.retryAfterSeconds) s"
            log.refused(status: 429, detail: detail, client: client.name, route: context.endpointPath ?? "unknown", requestID: context.requestID)
            throw GatewayProblem(
                ProblemDetails(slug: "rate-limited", title: "Too many requests", status: 429, detail: detail, requestID: context.requestID),
                headers: decision.headerFields)
        }
        return (client, decision.headerFields)
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
        let key = parts[1].trimmingCharacters(in: .whitespaces)
        return key.isEmpty ? nil : key
    }

    /// A rate without a needless `.0`.
    static func format(_ rate: Double) -> String {
        rate == rate.rounded() && abs(rate) < 1e15 ? String(Int(rate)) : String(rate)
    }
}
