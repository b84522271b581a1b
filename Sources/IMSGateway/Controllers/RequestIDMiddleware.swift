import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1

/// Gives every request a new id and a correlation id (the caller's valid `X-Request-Id`, else
/// the request id), echoes the correlation id in every answer's `X-Request-Id`, and turns every error that
/// reaches it into RFC 9457 problem details (404; 405 with `Allow` for a method a known path
/// does not serve; 400 for a body whose HTTP framing broke; 413; framework errors; and 500
/// for anything unexpected, whose detail is logged but not shown).
struct RequestIDMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext
    let logger: Logger

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        var context = context
        let requestID = RequestIdentifier.make()
        let correlationID = RequestIdentifier.correlation(request.headers[ResponseFactory.requestIDHeader]) ?? requestID
        context.requestID = requestID
        context.correlationID = correlationID
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            response = try Self.response(for: error, request: request, context: context, logger: logger)
        }
        response.headers[ResponseFactory.requestIDHeader] = correlationID
        return response
    }

    /// The problem details answer for an error thrown by the routes. Out of line (never inlined
    /// into ``handle(_:context:next:)``): its temporaries would otherwise be in the async frame
    /// that every request keeps while it waits (BENCHMARKS.md, "Memory with 10,000 waiting callers").
    @inline(never)
    private static func response(
        for error: any Error, request: Request, context: Context, logger: Logger
    ) throws -> Response {
        let requestID = context.requestID
        switch error {
        case let problem as GatewayProblem:
            return try problem.response(from: request, context: context)
        case let error as HTTPError where error.status == .notFound && GatewayRoutes.route(for: request.uri.path) != nil:
            let allowed = GatewayRoutes.route(for: request.uri.path)?.allow ?? ""
            return ResponseFactory.json(
                status: 405,
                ProblemDetails(
                    slug: "method-not-allowed", title: "Method Not Allowed", status: 405,
                    detail: "\(InputExcerpt.of(request.uri.path)) answers \(allowed) only", requestID: requestID),
                problem: true, headers: [.allow: allowed])
        case let error as HTTPError:
            let status = Int(error.status.code)
            return ResponseFactory.json(
                status: status,
                ProblemDetails(
                    slug: Self.slug(error.status), title: error.status.reasonPhrase, status: status,
                    detail: error.body ?? "\(request.method) \(InputExcerpt.of(request.uri.path)): \(error.status.reasonPhrase)",
                    requestID: requestID),
                problem: true, headers: error.headers)
        case let error as HTTPParserError:
            // The body's framing broke while a route read it (a malformed chunk); the channel
            // closes after this answer (HTTPFramingHandler).
            let rejection = HTTPFramingRejection(parserError: error)
            logger.info(
                "request refused",
                metadata: [
                    "request_id": "\(requestID)", "route": "\(context.endpointPath ?? GatewayRoutes.unknownRoute)",
                    "status": "\(rejection.status)", "detail": "\(rejection.detail)",
                ])
            return ResponseFactory.json(
                status: rejection.status,
                ProblemDetails(
                    slug: rejection.slug, title: rejection.title, status: rejection.status, detail: rejection.detail,
                    requestID: requestID),
                problem: true, headers: [.connection: "close"])
        case is NIOTooManyBytesError:
            return ResponseFactory.json(
                status: 413,
                ProblemDetails(
                    slug: "body-too-large", title: "Request body too large", status: 413,
                    detail: "the body is larger than the gateway accepts", requestID: requestID),
                problem: true)
        default:
            logger.error("unexpected error", metadata: ["request_id": "\(requestID)", "error": "\(error)"])
            return ResponseFactory.json(
                status: 500,
                ProblemDetails(
                    slug: "internal-error", title: "Internal error", status: 500,
                    detail: "the gateway failed unexpectedly; the request id is in the log", requestID: requestID),
                problem: true)
        }
    }

    private static func slug(_ status: HTTPResponse.Status) -> String {
        status.reasonPhrase.lowercased().split(whereSeparator: { !$0.isLetter && !$0.isNumber }).joined(separator: "-")
    }
}
