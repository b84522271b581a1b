import IMSClient
import Logging
import ServiceLifecycle

/// Proves the upstream credentials: at start, then every `recheckInterval`, and at once after
/// a batch found its credentials refused (``ReadinessState`` marked unproven). Until a probe
/// succeeds, `GET /readyz` answers 503.
///
/// A probe is one ShowJob of a made-up job id for `probeProjectID` (see
/// ``IMSClient/proveCredentials(projectID:)``). Failed probes are repeated with a growing pause
/// (2 s doubling to 10 s), never in a tight loop: IAM and the API gateway lock identities that
/// fail authentication repeatedly.
struct ReadinessMonitor: Service {
    let client: IMSClient
    let probeProjectID: String
    let state: ReadinessState
    let recheckInterval: Duration
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await probeLoop()
        }
    }

    private func probeLoop() async {
        var pause = Duration.seconds(2)
        while !Task.isCancelled {
            do throws(IMSClientError) {
                try await client.proveCredentials(projectID: probeProjectID)
                if !state.snapshot.credentialsProven {
                    logger.info("upstream credentials proven", metadata: ["probe_project_id": "\(probeProjectID)"])
                }
                state.proven()
                pause = .seconds(2)
                await sleepWhileProven(upTo: recheckInterval)
            } catch {
                state.unproven("\(error)")
                logger.warning(
                    "upstream credentials not proven", metadata: ["probe_project_id": "\(probeProjectID)", "error": "\(error)"])
                try? await Task.sleep(for: pause)
                pause = min(pause * 2, .seconds(10))
            }
        }
    }

    /// Sleeps `limit`, waking early (checked each second) once the state is marked unproven.
    private func sleepWhileProven(upTo limit: Duration) async {
        let end = ContinuousClock.now.advanced(by: limit)
        while !Task.isCancelled, state.snapshot.credentialsProven, ContinuousClock.now < end {
            try? await Task.sleep(for: min(.seconds(1), ContinuousClock.now.duration(to: end)))
        }
    }
}
