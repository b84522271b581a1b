import IMSClient
import Logging
import ServiceLifecycle

/// Drains the gateway on graceful shutdown (SIGTERM, SIGINT), before the HTTP server stops.
///
/// Runs in the same `ServiceGroup` as the Hummingbird application and after it in the list, so
/// that the group shuts it down first (a group shuts its services down in reverse order, each
/// after the one before has returned). Until it returns the server keeps listening: `/readyz`
/// answers 503, new accept/reject requests are refused with 503, and running ones finish or are
/// answered 504 at the drain deadline. Then the application's own graceful shutdown stops the
/// server, which still lets any answer being written finish.
struct DrainService: Service {
    let drain: DrainController
    let readiness: ReadinessState
    /// The drain timeout (`drain.timeoutSeconds`).
    let timeout: Duration
    let logger: Logger

    /// How long after the drain deadline the server keeps listening for requests still running
    /// (a submit sent before the drain keeps its own timeout); the server waits for them anyway.
    static let grace = Duration.seconds(5)

    func run() async throws {
        do {
            try await gracefulShutdown()
        } catch {
            return  // cancelled: the group is stopping without a drain
        }
        // In this order: once `/readyz` says draining, new requests are refused too.
        drain.startDraining(timeout: timeout)
        readiness.startDraining()
        let running = drain.running
        logger.notice(
            "draining", metadata: ["running": "\(running)", "drain_timeout_ms": "\(timeout.wholeMilliseconds)"])
        let limit = ContinuousClock.now.advanced(by: timeout + Self.grace)
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await drain.waitUntilIdle() }
            group.addTask { try? await Task.sleep(until: limit) }
            await group.next()
            group.cancelAll()
        }
        let left = drain.running
        if left > 0 {
            logger.warning("drain grace passed with requests still running; stopping the server", metadata: ["running": "\(left)"])
        } else {
            logger.notice("drained; stopping the server")
        }
    }
}
