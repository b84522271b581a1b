import HTTPTypes
import Hummingbird
import NIOCore

/// The simulator's own endpoints under `/_sim/`, never part of IMS: call counters and faults.
///
/// - `GET /_sim/stats`: calls per operation, tokens issued, authentication failures, jobs.
/// - `POST /_sim/revoke-tokens`: forgets every issued token, as a password change does.
struct ControlController {
    let state: SimulatorState

    func addRoutes(to router: Router<BasicRequestContext>) {
        router.get("/_sim/stats") { _, _ in
            SimulatorResponses.json(.ok, state.stats())
        }
        router.post("/_sim/revoke-tokens") { _, _ in
            SimulatorResponses.json(.ok, ["revoked": state.revokeAllTokens()])
        }
    }
}
