import Hummingbird
import Logging

/// The one middleware in front of every route (docs/ARCHITECTURE.md, "The path of one request"), in this
/// order, outermost first:
/// 1. **metrics**: counts and times every answer by route
///    (``GatewayRoutes/metricLabel(endpointPath:target:status:)``: the matched route pattern or
///    `unknown`, never the raw path, so that hostile paths cannot create label values) and keeps
///    the gauge of callers waiting on a `POST`;
/// 2. **request id**: a new id for every request and a correlation id (the caller's valid
///    `X-Request-Id`, else the request id), echoed in every answer's `X-Request-Id`;
/// 3. **CORS** when `cors.allowedOrigins` is set (``GatewayCORSMiddleware``), around what may
///    refuse, so that its problems carry the CORS headers too;
/// 4. **canonical paths**: 404 for a request whose path is not canonical (``CanonicalPath``)
///    before any route sees it: `//accept-images`, `/accept-images/` and `/./accept-images`
///    are not `/accept-images`;
/// 5. **problem details**: every error that reaches it becomes an RFC 9457 answer
///    (``ProblemResponses``).
///
/// One middleware rather than four: every middleware adds its async frames (and a copy of the
/// request and its context) to what each waiting caller keeps for the whole wait
/// (BENCHMARKS.md, "Memory per waiting caller").
struct GatewayEdgeMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext
    let metrics: GatewayMetrics
    /// Nil when no CORS origin is configured.
    let cors: GatewayCORSMiddleware?
    let logger: Logger

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        // Only what the wait needs stays in this frame, which every waiting caller keeps: the
        // steps before and after it are out of line (``arrived(_:context:)``,
        // ``answered(_:request:context:arrival:)``), and so is CORS (``withCORS(_:_:context:next:)``).
        var context = context
        let arrival = arrived(request, context: &context)
        defer { if arrival.waits { metrics.callersWaiting(-1) } }
        var response: Response
        if let cors {
            response = try await withCORS(cors, request, context: context, next: next)
        } else {
            do {
                try Self.requireCanonicalPath(request, context: context)
                response = try await next(request, context)
            } catch {
                response = try ProblemResponses.response(for: error, request: request, context: context, logger: logger)
            }
        }
        answered(&response, request: request, context: context, arrival: arrival)
        return response
    }

    /// When a request arrived, and whether it counts as a waiting caller (a `POST`).
    struct Arrival {
        var started: ContinuousClock.Instant
        var waits: Bool
    }

    /// Gives the request its ids and counts a `POST` as a waiting caller.
    @inline(never)
    private func arrived(_ request: Request, context: inout Context) -> Arrival {
        let requestID = RequestIdentifier.make()
        context.requestID = requestID
        context.correlationID = RequestIdentifier.correlation(request.headers[ResponseFactory.requestIDHeader]) ?? requestID
        let waits = request.method == .post
        if waits { metrics.callersWaiting(1) }
        return Arrival(started: .now, waits: waits)
    }

    /// Echoes the correlation id, counts and times the answer.
    @inline(never)
    private func answered(_ response: inout Response, request: Request, context: Context, arrival: Arrival) {
        response.headers[ResponseFactory.requestIDHeader] = context.correlationID
        let status = Int(response.status.code)
        let route = GatewayRoutes.metricLabel(endpointPath: context.endpointPath, target: request.head.path ?? "", status: status)
        metrics.request(route: route, status: status, duration: arrival.started.duration(to: .now))
    }

    /// The answer when CORS origins are configured: CORS around the canonical-path check, the
    /// route and the problem details, so that refusals carry its headers too.
    @inline(never)
    private func withCORS(
        _ cors: GatewayCORSMiddleware, _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        try await cors.handle(request, context: context) { [logger] request, context in
            do {
                try Self.requireCanonicalPath(request, context: context)
                return try await next(request, context)
            } catch {
                return try ProblemResponses.response(for: error, request: request, context: context, logger: logger)
            }
        }
    }

    /// - Throws: ``GatewayProblem`` 404 when the request's path is not canonical.
    private static func requireCanonicalPath(_ request: Request, context: Context) throws {
        let target = request.head.path ?? ""
        guard !CanonicalPath.isCanonical(target) else { return }
        throw notCanonical(target, context: context)
    }

    /// Out of line: its string building would otherwise be in every request's frame.
    @inline(never)
    private static func notCanonical(_ target: String, context: Context) -> GatewayProblem {
        GatewayProblem(
            ProblemDetails(
                slug: "not-found", title: "Not Found", status: 404,
                detail: "\(InputExcerpt.of(target.prefix(while: { $0 != "?" }))) is not a path the gateway serves (empty segments, a trailing slash and dot segments are not removed)",
                requestID: context.requestID))
    }
}
