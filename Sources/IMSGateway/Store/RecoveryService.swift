import Foundation
import GatewayStore
import Logging
import ServiceLifecycle

/// Resumes, as the gateway starts, the requests an earlier process left running
/// (docs/ARCHITECTURE.md, "State and recovery"): each goes on as a background wait; those past
/// `wait.maxBackgroundSeconds` are stored `given_up` with their job ids.
struct RecoveryService: Service {
    let recovered: RecoveredRequests
    let registry: RequestRegistry
    let metrics: GatewayMetrics
    let logger: Logger

    func run() async throws {
        for snapshot in recovered.expired {
            let jobs = snapshot.batches.compactMap(\.jobID)
            await registry.storeGivenUp(snapshot)
            logger.warning(
                "request given up at start: past wait.maxBackgroundSeconds",
                metadata: ["request_id": "\(snapshot.request.id)", "job_ids": "\(jobs.joined(separator: ","))"])
        }
        registry.startRecovered()
        if !recovered.resumed.isEmpty || !recovered.expired.isEmpty {
            metrics.recovered(recovered.resumed.count, as: "resumed")
            metrics.recovered(recovered.expired.count, as: "given_up")
            logger.notice(
                "requests of an earlier process recovered",
                metadata: ["resumed": "\(recovered.resumed.count)", "given_up": "\(recovered.expired.count)"])
        }
        try? await gracefulShutdown()
    }
}
