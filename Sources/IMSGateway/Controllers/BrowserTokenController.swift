import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// `POST /browser-tokens` (docs/ARCHITECTURE.md, "Portals"): a portal's backend, with its client
/// key, gets a short-lived token for its browser page. Body
/// `{"origin": "https://portal.example.com", "projects": ["<project_id>", ...], "ttl_seconds": 600}`
/// (`ttl_seconds` optional: `browserTokens.maxTtlSeconds`, at most 900); answer 201
/// `{"token": "<JWT>", "token_type": "Bearer", "expires_in": 600, "expires_at": "<RFC 3339>",
/// "origin": "...", "projects": [...]}` with `Cache-Control: no-store`.
///
/// Refused: 404 `browser-tokens-off` without `browserTokens.secret`; 403
/// `browser-token-not-allowed` when called with a browser token; 400 naming each bad field
/// (`origin` must be one of `cors.allowedOrigins`; 1 to 100 `projects` of 32 hex); 403
/// `project-not-allowed` for a project the client may not use.
struct BrowserTokenController {
    let configuration: GatewayConfiguration
    let tokens: BrowserTokens?
    let metrics: GatewayMetrics

    /// Most projects in one token.
    static let maxProjects = 100

    /// The answer document.
    struct Issued: Encodable {
        var token: String
        var tokenType = "Bearer"
        var expiresIn: Int
        var expiresAt: String
        var origin: String
        var projects: [String]

        enum CodingKeys: String, CodingKey {
            case token, origin, projects
            case tokenType = "token_type"
            case expiresIn = "expires_in"
            case expiresAt = "expires_at"
        }
    }

    func addRoutes(to router: some RouterMethods<GatewayRequestContext>) {
        router.post("/browser-tokens") { request, context in
            try await issue(request, context: context)
        }
    }

    private func issue(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        guard let tokens else {
            throw problem(404, "browser-tokens-off", "Browser tokens are off", "this gateway issues no browser tokens (set browserTokens.secret)", context)
        }
        guard context.browserTokenOrigin == nil else {
            throw problem(403, "browser-token-not-allowed", "Browser token not allowed", "a browser token cannot get another browser token: call this from the portal's backend with its client key", context)
        }
        guard let client = context.client else {
            throw problem(401, "unauthorized", "Unauthorized", "send the client key as Authorization: Bearer <key>", context)
        }
        guard MemberStatusController.isJSON(request.headers[.contentType]) else {
            throw problem(415, "unsupported-media-type", "Unsupported media type", "send the body as application/json", context)
        }
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: 64 * 1024)
        } catch {
            throw problem(413, "body-too-large", "Request body too large", "the body is larger than 65536 bytes", context)
        }
        let asked = try validated(Data(body.readableBytesView), context: context)
        for project in asked.projects where !client.allows(projectID: project) {
            metrics.clientAuthFailure(reason: "project_not_allowed")
            throw problem(403, "project-not-allowed", "Project not allowed", "client \(client.name) may not change image members of project \(project)", context)
        }
        let (token, expiresAt) = try await tokens.issue(
            client: client.name, origin: asked.origin, projects: asked.projects, lifetimeSeconds: asked.lifetime)
        let issued = Issued(
            token: token, expiresIn: asked.lifetime, expiresAt: ISO8601DateFormatter().string(from: expiresAt), origin: asked.origin,
            projects: asked.projects)
        return ResponseFactory.json(status: 201, issued, headers: [.cacheControl: "no-store"])
    }

    /// The body's origin, projects (normalised to lower case, duplicates dropped) and lifetime.
    /// - Throws: ``GatewayProblem`` 400 naming every bad field.
    private func validated(_ data: Data, context: GatewayRequestContext) throws -> (origin: String, projects: [String], lifetime: Int) {
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw invalid([FieldError(field: "body", detail: "must be a JSON object")], context)
        }
        var errors: [FieldError] = []
        for key in object.keys.sorted() where !["origin", "projects", "ttl_seconds"].contains(key) {
            errors.append(FieldError(field: InputExcerpt.of(key), detail: "is not a field of this request"))
        }
        let origin = object["origin"] as? String ?? ""
        if object["origin"] == nil {
            errors.append(FieldError(field: "origin", detail: "is required: the exact origin of the portal's page, e.g. https://portal.example.com"))
        } else if !configuration.corsAllowedOrigins.contains(origin) {
            errors.append(FieldError(field: "origin", detail: "must be one of the gateway's cors.allowedOrigins (\(InputExcerpt.of(origin)) is not)"))
        }
        var projects: [String] = []
        if let list = object["projects"] as? [Any], (1...Self.maxProjects).contains(list.count) {
            for (index, item) in list.enumerated() {
                guard let text = item as? String, text.count == 32, text.allSatisfy(\.isHexDigit) else {
                    errors.append(FieldError(field: "projects[\(index)]", detail: "must be a project_id of 32 hexadecimal characters"))
                    continue
                }
                let project = text.lowercased()
                if !projects.contains(project) { projects.append(project) }
            }
        } else {
            errors.append(FieldError(field: "projects", detail: "must be an array of 1 to \(Self.maxProjects) project_ids"))
        }
        var lifetime = configuration.browserTokensMaxTTLSeconds
        if object["ttl_seconds"] != nil {
            // JSONDecoder takes only a JSON integer for an Int (no true, no 10.5, no "600").
            if let asked = (try? JSONDecoder().decode(AskedLifetime.self, from: data))?.ttlSeconds,
                (10...configuration.browserTokensMaxTTLSeconds).contains(asked)
            {
                lifetime = asked
            } else {
                errors.append(FieldError(field: "ttl_seconds", detail: "must be a whole number of seconds from 10 to \(configuration.browserTokensMaxTTLSeconds)"))
            }
        }
        guard errors.isEmpty else { throw invalid(errors, context) }
        return (origin, projects, lifetime)
    }

    /// `ttl_seconds` of the body.
    private struct AskedLifetime: Decodable {
        var ttlSeconds: Int?

        enum CodingKeys: String, CodingKey {
            case ttlSeconds = "ttl_seconds"
        }
    }

    private func invalid(_ errors: [FieldError], _ context: GatewayRequestContext) -> GatewayProblem {
        var refused = problem(400, "invalid-request", "Invalid request body", "\(errors.count) field(s) are invalid; no token was made", context)
        refused.problem.errors = errors
        return refused
    }

    private func problem(_ status: Int, _ slug: String, _ title: String, _ detail: String, _ context: GatewayRequestContext) -> GatewayProblem {
        GatewayProblem(ProblemDetails(slug: slug, title: title, status: status, detail: detail, requestID: context.requestID))
    }
}
