import Hummingbird

/// Counts and times every answer by route (the matched route pattern, never the raw path, so
/// that hostile paths cannot create label values) and keeps the gauge of callers waiting on
/// accept/reject.
struct MetricsMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext
    let metrics: GatewayMetrics

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let started = ContinuousClock.now
        let waits = request.method == .post
        if waits { metrics.callersWaiting(1) }
        defer { if waits { metrics.callersWaiting(-1) } }
        let response = try await next(request, context)
        let route = context.endpointPath ?? "unmatched"
        metrics.request(route: route, status: Int(response.status.code), duration: started.duration(to: .now))
        return response
    }
}
