import Logging
import NIOCore
import NIOPosix
import PostgresNIO

extension PostgresGatewayStore: RequestChangeFeed {
    /// The one channel every replica listens on and every write notifies (docs/ARCHITECTURE.md,
    /// "Repeats on another replica"): a fixed identifier (channel names take no bound
    /// parameters), well under PostgreSQL's 63 bytes; the payload is the request id.
    public static let notificationChannel = "imsgw_requests"

    /// Listens on ``notificationChannel`` on a connection of its own (`PostgresClient` has no
    /// LISTEN), until the calling task is cancelled: `changed` gets the id of each request a
    /// replica wrote (events appended or state changed, sent when that write commits), and
    /// `resync` is called each time the listener (re)connected, since notifications sent while
    /// it was away are lost: whoever watches must read again. A lost connection is opened again
    /// after 1 s, doubling up to 30 s, with one log line each time.
    public func listenForChanges(
        changed: @escaping @Sendable (String) -> Void, resync: @escaping @Sendable (Bool) -> Void
    ) async {
        let logger = logger
        var delay: Duration = .seconds(1)
        var connectionID = 0
        while !Task.isCancelled {
            connectionID += 1
            do {
                let configuration = try Self.connectionConfiguration(settings)
                let connection = try await PostgresConnection.connect(
                    on: MultiThreadedEventLoopGroup.singleton.any(), configuration: configuration, id: connectionID,
                    logger: logger
                ).get()
                do {
                    try await connection.listen(on: Self.notificationChannel) { notifications in
                        logger.info("listening for request changes", metadata: ["channel": "\(Self.notificationChannel)"])
                        delay = .seconds(1)
                        resync(true)
                        for try await notification in notifications { changed(notification.payload) }
                    }
                } catch {
                    try? await connection.close()
                    throw error
                }
                try? await connection.close()
            } catch {
                if Task.isCancelled { break }
                logger.warning(
                    "the listener for request changes lost its connection; followers read the store meanwhile",
                    metadata: ["error": "\(storeError(error, operation: "listening for request changes"))",
                               "retry_in_seconds": "\(delay.components.seconds)"])
            }
            resync(false)
            try? await Task.sleep(for: delay)
            delay = min(delay * 2, .seconds(30))
        }
    }

    /// A connection of its own with the pool's settings (host, user, password, database, TLS).
    static func connectionConfiguration(_ settings: PostgresStoreSettings) throws(StoreError) -> PostgresConnection.Configuration {
        let tls: PostgresConnection.Configuration.TLS
        if let configuration = try tlsConfiguration(settings) {
            do {
                let context = try NIOSSLContext(configuration: configuration)
                tls = settings.tlsMode == .prefer ? .prefer(context) : .require(context)
            } catch {
                throw StoreError(.failed, "store.url: the TLS settings cannot be used (\(error))")
            }
        } else {
            tls = .disable
        }
        return PostgresConnection.Configuration(
            host: settings.host, port: settings.port, username: settings.username, password: settings.password,
            database: settings.database, tls: tls)
    }
}
