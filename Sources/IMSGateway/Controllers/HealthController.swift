import HTTPTypes
import Hummingbird

/// `GET /healthz` (the process serves requests) and `GET /readyz` (configured, upstream
/// credentials proven, not draining).
struct HealthController {
    let readiness: ReadinessState

    func addRoutes(to router: Router<GatewayRequestContext>) {
        router.get("/healthz") { _, _ in
            ResponseFactory.json(status: 200, ["status": "ok"])
        }
        router.get("/readyz") { _, _ in
            let snapshot = readiness.snapshot
            if snapshot.isReady {
                return ResponseFactory.json(status: 200, ["status": "ready"])
            }
            let reason = snapshot.draining ? "draining" : (snapshot.lastProblem ?? "credentials not proven")
            let problem = ProblemDetails(
                slug: "not-ready", title: "Not ready", status: 503,
                detail: "not ready: \(reason)", requestID: nil)
            return ResponseFactory.json(
                status: 503, problem, problem: true, headers: [ResponseFactory.retryAfterHeader: "5"])
        }
    }
}
