import Hummingbird

/// Counts and times every answer by route (``GatewayRoutes/metricLabel(endpointPath:target:status:)``:
/// the matched route pattern or `unknown`, never the raw path, so that hostile paths cannot
/// create label values) and keeps the gauge of callers waiting on accept/reject.
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
        let status = Int(response.status.code)
        let route = GatewayRoutes.metricLabel(endpointPath: context.endpointPath, target: request.head.path ?? "", status: status)
        metrics.request(route: route, status: status, duration: started.duration(to: .now))
        return response
    }
}
