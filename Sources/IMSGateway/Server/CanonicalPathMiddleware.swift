import Hummingbird

/// Answers 404 to a request whose path is not canonical (``CanonicalPath``) before any route
/// sees it: `//accept-images`, `/accept-images/` and `/./accept-images` are not
/// `/accept-images`.
struct CanonicalPathMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let target = request.head.path ?? ""
        guard CanonicalPath.isCanonical(target) else {
            throw GatewayProblem(
                ProblemDetails(
                    slug: "not-found", title: "Not Found", status: 404,
                    detail: "\(InputExcerpt.of(target.prefix(while: { $0 != "?" }))) is not a path the gateway serves (empty segments, a trailing slash and dot segments are not removed)",
                    requestID: context.requestID))
        }
        return try await next(request, context)
    }
}
