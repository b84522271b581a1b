import Logging
import ServiceLifecycle
import UnixSignals

/// Reloads the clients file on SIGHUP. Requests in flight keep the clients they were
/// authenticated with; a file that cannot be read or is invalid is logged and the clients
/// already loaded stay in force.
struct ClientsReloadService: Service {
    let registry: ClientRegistry
    let logger: Logger

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        for await _ in signals.cancelOnGracefulShutdown() {
            do {
                let count = try registry.reload()
                logger.notice("clients file reloaded", metadata: ["path": "\(registry.path ?? "-")", "clients": "\(count)"])
            } catch {
                logger.error(
                    "clients file not reloaded; the clients loaded before stay in force",
                    metadata: ["path": "\(registry.path ?? "-")", "error": "\(error)"])
            }
        }
    }
}
