import HTTPTypes
import Hummingbird
import IMSClient

/// `GET /healthz` (the process serves requests) and `GET /readyz` (configured, store opened and
/// migrated, upstream credentials proven, not draining).
///
/// A pause of the IMS call budget after an IMS 429, and a store outage after start, are
/// reported in `/readyz`'s body but keep it 200: every replica shares the upstream account and
/// the store, so neither is a reason to take this one out of the Service.
struct HealthController {
    let readiness: ReadinessState
    /// The pause of the IMS call budget in force, if any.
    let upstreamPause: @Sendable () -> UpstreamPause?
    /// Whether the store answers, as the request path last saw it.
    let store: @Sendable () -> StoreHealth.Snapshot

    /// The body of a ready `/readyz`: `{"status": "ready", "upstream": {...}, "store": {...}}`.
    struct Ready: Encodable {
        /// Always `ready`.
        var status = "ready"
        var upstream: Upstream
        var store: StoreHealth.Snapshot
    }

    /// The state of the IMS call budget: `{"paused": false}`, or while IMS throttles
    /// `{"paused": true, "resumes_in_seconds": 287, "retry_after": "100000"}` (whole seconds
    /// rounded up; `retry_after` as IMS sent it, absent when it sent none).
    struct Upstream: Encodable {
        var paused: Bool
        var resumesInSeconds: Int?
        var retryAfter: String?

        enum CodingKeys: String, CodingKey {
            case paused
            case resumesInSeconds = "resumes_in_seconds"
            case retryAfter = "retry_after"
        }

        init(_ pause: UpstreamPause?, now: ContinuousClock.Instant = .now) {
            paused = pause != nil
            resumesInSeconds = pause.map { MemberStatusAnswer.wholeSecondsRoundedUp(now.duration(to: $0.until)) }
            // An upstream header, so at most 128 characters of it.
            retryAfter = pause?.requested.map { $0.count > 128 ? String($0.prefix(128)) + "..." : $0 }
        }
    }

    func addRoutes(to router: Router<GatewayRequestContext>) {
        router.get("/healthz") { _, _ in
            ResponseFactory.json(status: 200, ["status": "ok"])
        }
        router.get("/readyz") { _, _ in
            let snapshot = readiness.snapshot
            if snapshot.isReady {
                return ResponseFactory.json(status: 200, Ready(upstream: Upstream(upstreamPause()), store: store()))
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
