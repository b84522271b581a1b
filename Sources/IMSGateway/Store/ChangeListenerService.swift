import GatewayStore
import ServiceLifecycle

/// Runs the store's change listener (``RequestChangeFeed``, one connection of its own) until
/// graceful shutdown, feeding ``RequestWatchers`` (docs/ARCHITECTURE.md, "Repeats on another
/// replica"). Only on a shared (PostgreSQL) store.
struct ChangeListenerService: Service {
    let feed: any RequestChangeFeed
    let watchers: RequestWatchers

    func run() async throws {
        let watchers = watchers
        try? await cancelWhenGracefulShutdown {
            await feed.listenForChanges(
                changed: { watchers.changed($0) }, resync: { watchers.resync(listening: $0) })
        }
        watchers.resync(listening: false)
    }
}
