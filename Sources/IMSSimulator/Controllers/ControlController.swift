import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The simulator's own endpoints under `/_sim/`, never part of IMS: counters, tokens and the
/// measures of each job (the faults are ``FaultController``'s).
///
/// - `GET /_sim/stats`: calls per operation, tokens issued, authentication failures, jobs,
///   member statuses, faults injected per kind, 429s answered, the quota and the most IMS calls
///   seen in any quota window.
/// - `POST /_sim/revoke-tokens`: forgets every issued token, as a password change does.
/// - `GET /_sim/jobs/{job_id}`: one job's measures (``jobDocument(_:now:)``); 404 when unknown.
/// - `GET /_sim/jobs`: `{"jobs": [...]}`, every job's measures in creation order.
struct ControlController {
    let state: SimulatorState

    func addRoutes(to router: Router<SimulatorRequestContext>) {
        router.get("/_sim/stats") { _, _ in
            SimulatorResponses.json(.ok, state.stats())
        }
        router.post("/_sim/revoke-tokens") { _, _ in
            SimulatorResponses.json(.ok, ["revoked": state.revokeAllTokens()])
        }
        router.get("/_sim/jobs") { _, _ in
            let now = ContinuousClock.now
            return SimulatorResponses.json(.ok, ["jobs": state.allJobs().map { Self.jobDocument($0, now: now) }])
        }
        router.get("/_sim/jobs/:job_id") { _, context in
            guard let job = state.job(context.parameters.get("job_id") ?? "") else {
                return SimulatorResponses.json(.notFound, ["error": "no such job"])
            }
            return SimulatorResponses.json(.ok, Self.jobDocument(job, now: .now))
        }
    }

    /// One job's measures; times are Unix epoch milliseconds (wall clock), `null` when not (yet)
    /// known:
    /// `job_id`, `project_id`, `images`, `member_status`, `vault_id`; `status` (the real one:
    /// INIT, RUNNING, SUCCESS or FAIL, whatever a fault makes the answers say); `created_at`;
    /// `duration_ms` and `ends_at` (when it becomes final; `null` for a stuck job); `ended_at`
    /// (`ends_at` once it has passed); `polls` (ShowJob + ShowJobProgress calls naming it,
    /// whatever their answer); `first_final_poll_at` (the first intact answer that showed it
    /// final); `faults` (names of the job faults attached).
    static func jobDocument(_ job: SimJob, now: ContinuousClock.Instant) -> [String: Any] {
        func orNull(_ value: Any?) -> Any { value ?? NSNull() }
        let phase = job.phase(at: now)
        let createdAt = SimulatorResponses.epochMilliseconds(job.createdAtDate)
        let durationMilliseconds = job.duration.map { Int64($0.inMilliseconds.rounded()) }
        // From the rounded parts, so that ends_at - created_at is exactly duration_ms.
        let endsAt = durationMilliseconds.map { createdAt + $0 }
        return [
            "job_id": job.id,
            "project_id": job.projectID,
            "images": job.images,
            "member_status": job.memberStatus,
            "vault_id": orNull(job.vaultID),
            "status": phase.rawValue,
            "created_at": createdAt,
            "duration_ms": orNull(durationMilliseconds),
            "ends_at": orNull(endsAt),
            "ended_at": orNull(phase.isFinal ? endsAt : nil),
            "polls": job.polls,
            "first_final_poll_at": orNull(job.firstFinalPollAt.map(SimulatorResponses.epochMilliseconds)),
            "faults": job.faults.names,
        ]
    }
}
