import Hummingbird

/// `GET /healthz`: 200 while the process serves requests.
struct HealthController {
    func addRoutes(to router: Router<BasicRequestContext>) {
        router.get("/healthz") { _, _ in
            ResponseFactory.json(status: 200, ["status": "ok"])
        }
    }
}
