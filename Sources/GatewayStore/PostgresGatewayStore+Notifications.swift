import Logging
import NIOCore
import NIOPosix
import PostgresNIO
import Synchronization

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
    /// after 1 s, doubling up to 30 s, with one log line each time. Every
    /// ``listenerHeartbeatInterval`` the listener sends `SELECT 1` on its connection: one that
    /// gets no answer within ``listenerHeartbeatTimeout`` (a connection that died silently,
    /// which TCP alone may not notice for hours) is closed and opened again, as a lost one is.
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
                        try await withThrowingTaskGroup(of: Void.self) { group in
                            group.addTask {
                                for try await notification in notifications { changed(notification.payload) }
                            }
                            group.addTask {
                                try await Self.heartbeat(connection, logger: logger)
                            }
                            try await group.next()
                            group.cancelAll()
                        }
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

    /// How often the listener checks that its connection still answers.
    static let listenerHeartbeatInterval: Duration = .seconds(5)
    /// How long the listener waits for the answer to its check before it takes the
    /// connection for dead.
    static let listenerHeartbeatTimeout: Duration = .seconds(5)

    /// The listener connection is silent: its check got no answer in time.
    struct ListenerStalled: Error, CustomStringConvertible {
        var description: String {
            "no answer to the listener's check within \(PostgresGatewayStore.listenerHeartbeatTimeout.components.seconds) s"
        }
    }

    /// Checks `connection` every ``listenerHeartbeatInterval`` until cancelled; when a check
    /// gets no answer in time, closes the connection (which ends its notifications) and throws.
    /// - Throws: ``ListenerStalled``; `CancellationError` when cancelled.
    static func heartbeat(_ connection: PostgresConnection, logger: Logger) async throws {
        while true {
            try await Task.sleep(for: listenerHeartbeatInterval)
            guard await answers(connection, within: listenerHeartbeatTimeout, logger: logger) else {
                try? await connection.close()
                throw ListenerStalled()
            }
        }
    }

    /// Whether `SELECT 1` on `connection` answers within `timeout`. The query runs in a task of
    /// its own and is not awaited past the timeout: PostgresNIO's queries ignore cancellation.
    static func answers(_ connection: PostgresConnection, within timeout: Duration, logger: Logger) async -> Bool {
        let pending = FirstAnswer()
        return await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            pending.set(continuation)
            Task {
                let answered = (try? await connection.query("SELECT 1", logger: logger).collect()) != nil
                pending.resume(answered)
            }
            Task {
                try? await Task.sleep(for: timeout)
                pending.resume(false)
            }
        }
    }

    /// A continuation resumed by the first of several racers, once.
    private final class FirstAnswer: Sendable {
        private let continuation = Mutex<CheckedContinuation<Bool, Never>?>(nil)

        func set(_ value: CheckedContinuation<Bool, Never>) { continuation.withLock { $0 = value } }

        func resume(_ answer: Bool) { continuation.withLock { $0.take() }?.resume(returning: answer) }
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
