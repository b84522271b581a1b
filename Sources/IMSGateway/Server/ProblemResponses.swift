import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1

/// RFC 9457 problem details for every error that reaches ``GatewayEdgeMiddleware``: a
/// ``GatewayProblem`` as it is; 404; 405 with `Allow` for a method a known path does not serve;
/// 400 for a body whose HTTP framing broke; 413; other framework errors by their status; and 500
/// for anything unexpected, whose detail is logged but not shown.
enum ProblemResponses {
    /// The problem details answer for `error`, thrown by a route or a middleware inside
    /// ``GatewayEdgeMiddleware``. Out of line (never inlined into the middleware's `handle`):
    /// its temporaries would otherwise be in the async frame that every request keeps while it
    /// waits (BENCHMARKS.md, "Memory with 10,000 waiting callers").
    /// - Throws: what ``GatewayProblem/response(from:context:)`` throws (a body it cannot encode).
    @inline(never)
    static func response(
        for error: any Error, request: Request, context: GatewayRequestContext, logger: Logger
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
