import Logging
import ServiceLifecycle
import UnixSignals

/// Reloads the clients file on SIGHUP. Requests in flight keep the clients they were
/// authenticated with; a file that cannot be read or is invalid is logged and the clients
/// already loaded stay in force.
struct ClientsReloadService: Service {
    let registry: ClientRegistry
    /// Told the new limits at once, so that they count from the reload.
    let limiter: ClientRateLimiter<ContinuousClock>
    let logger: Logger

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        for await _ in signals.cancelOnGracefulShutdown() {
            do {
                let count = try registry.reload()
                limiter.apply(limits: Dictionary(
                    registry.clients.map { ($0.name, $0.rateLimit) }, uniquingKeysWith: { first, _ in first }))
                logger.notice("clients file reloaded", metadata: ["path": "\(registry.path ?? "-")", "clients": "\(count)"])
            } catch {
                logger.error(
                    "clients file not reloaded; the clients loaded before stay in force",
                    metadata: ["path": "\(registry.path ?? "-")", "error": "\(error)"])
            }
        }
    }
}
