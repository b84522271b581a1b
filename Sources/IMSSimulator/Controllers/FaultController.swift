import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The simulator's fault control, never part of IMS (`FaultPlan.init(json:over:)` documents the body):
///
/// - `GET /_sim/faults`: the running plan, each fault with its `remaining` count (`null`: always).
/// - `PUT /_sim/faults`: replaces the running plan; answers it as GET does, or 400
///   `{"error": "..."}` naming the bad field. Counts, the job-duration sequence and the quota
///   window start afresh.
/// - `DELETE /_sim/faults`: puts back the plan the simulator started with; answers it.
struct FaultController {
    let state: SimulatorState
    /// Largest plan accepted, in bytes.
    private static let maxBodyBytes = 256 * 1024

    func addRoutes(to router: Router<SimulatorRequestContext>) {
        router.get("/_sim/faults") { _, _ in
            SimulatorResponses.json(.ok, state.faults.planDocument())
        }
        router.put("/_sim/faults") { request, _ in
            var request = request
            let buffer = try await request.collectBody(upTo: Self.maxBodyBytes)
            let plan: FaultPlan
            do throws(SimulatorSettingError) {
                plan = try FaultPlan(json: Array(buffer.readableBytesView), over: state.faults.startPlan)
            } catch {
                return SimulatorResponses.json(.badRequest, ["error": error.message])
            }
            state.faults.replace(with: plan)
            return SimulatorResponses.json(.ok, state.faults.planDocument())
        }
        router.delete("/_sim/faults") { _, _ in
            state.faults.replace(with: state.faults.startPlan)
            return SimulatorResponses.json(.ok, state.faults.planDocument())
        }
    }
}
