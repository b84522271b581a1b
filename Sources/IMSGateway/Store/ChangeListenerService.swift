import GatewayStore
import ServiceLifecycle

/// Runs the store's change listener (``RequestChangeFeed``, one connection of its own) until
/// graceful shutdown, feeding ``RequestWatchers`` (docs/ARCHITECTURE.md, "Repeats on another
/// replica"). Only on a shared (PostgreSQL) store.
///
/// `imsgw_store_listening` is 1 while the listener is connected, 0 while it reconnects.
struct ChangeListenerService: Service {
    let feed: any RequestChangeFeed
    let watchers: RequestWatchers
    let metrics: GatewayMetrics

    func run() async throws {
        let (watchers, metrics) = (watchers, metrics)
        metrics.storeListening(false)
        try? await cancelWhenGracefulShutdown {
            await feed.listenForChanges(
                changed: { watchers.changed($0) },
                resync: { listening in
                    watchers.resync(listening: listening)
                    metrics.storeListening(listening)
                })
        }
        watchers.resync(listening: false)
        metrics.storeListening(false)
    }
}
