import Hummingbird
import Logging
import ServiceLifecycle

/// A Hummingbird application running inside this process on a loopback port, for tests, the
/// demo and benchmarks: start it, read its port, stop it.
public final class InProcessServer: Sendable {
    /// The TCP port the server listens on.
    public let port: Int
    private let group: ServiceGroup
    private let task: Task<Void, any Error>

    private init(port: Int, group: ServiceGroup, task: Task<Void, any Error>) {
        self.port = port
        self.group = group
        self.task = task
    }

    /// Builds the application with `build`, runs it and returns once it listens.
    /// - Parameter build: receives the callback to pass as the application's
    ///   `onServerRunning` (it reports the bound port) and returns the application.
    /// - Throws: the application's start-up error (e.g. the address is in use).
    public static func start<App: ApplicationProtocol>(
        logger: Logger = Logger(label: "in-process-server"),
        _ build: (@escaping @Sendable (Int) async -> Void) -> App
    ) async throws -> InProcessServer {
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = build { port in continuation.yield(port) }
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        let task = Task {
            defer { continuation.finish() }
            try await group.run()
        }
        for await port in ports {
            return InProcessServer(port: port, group: group, task: task)
        }
        try await task.value
        throw CancellationError()
    }

    /// `http://127.0.0.1:<port>`.
    public var baseURL: String { "http://127.0.0.1:\(port)" }

    /// Shuts the server down gracefully and waits until it has stopped.
    public func stop() async {
        await group.triggerGracefulShutdown()
        _ = try? await task.value
    }
}
