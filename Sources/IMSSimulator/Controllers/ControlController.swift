import HTTPTypes
import Hummingbird
import NIOCore

/// The simulator's own endpoints under `/_sim/`, never part of IMS: call counters.
struct ControlController {
    let state: SimulatorState

    func addRoutes(to router: Router<BasicRequestContext>) {
        router.get("/_sim/stats") { _, _ in
            SimulatorResponses.json(.ok, state.stats())
        }
    }
}
