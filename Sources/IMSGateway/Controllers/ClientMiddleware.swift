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
    /// The buckets shared by every replica (a PostgreSQL store); nil: `limiter` alone.
    var shared: SharedClientBuckets? = nil
    let metrics: GatewayMetrics
    let log: RequestLog

    static let realm = #"Bearer realm="ims-gateway""#

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let client = try authenticate(request, context: context)
        let rateLimitFields: HTTPFields
        if let shared {
            rateLimitFields = try Self.limited(await shared.admit(client: client.name, limit: client.rateLimit), client, context, metrics, log)
        } else {
            rateLimitFields = try Self.limited(limiter.admit(client: client.name, limit: client.rateLimit), client, context, metrics, log)
        }
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

    /// The client of the request.
    /// Out of line, like ``adding(_:to:)``: what they build would otherwise sit in the async frame
    /// that every request keeps while it waits (BENCHMARKS.md, "Memory with 10,000 waiting callers").
    /// - Throws: ``GatewayProblem`` 401 (no or unknown key).
    @inline(never)
    private func authenticate(_ request: Request, context: Context) throws -> ClientIdentity {
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
        return client
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
        let key = parts[1].trimmingCharacters(in: .whitespaces)
        return key.isEmpty ? nil : key
    }

    /// A rate without a needless `.0`.
    static func format(_ rate: Double) -> String {
        rate == rate.rounded() && abs(rate) < 1e15 ? String(Int(rate)) : String(rate)
    }
}
