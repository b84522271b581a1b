import Foundation
import HTTPTypes
import Hummingbird
import Logging
import ServiceLifecycle
import Synchronization

/// The HTTP server of a gateway whose store cannot be reached at start (a database that is
/// down, docs/ARCHITECTURE.md, "Replicas"): it listens on the gateway's address while `serve`
/// retries the store, so that a liveness probe sees a live process and a readiness probe a
/// process that is not ready, instead of a closed port (which makes Kubernetes restart the pod).
///
/// It answers `GET /healthz` 200 `{"status":"ok"}`, `GET /readyz` 503 (problem `not-ready`,
/// `Retry-After: 5`, the reason in `detail`) and everything else 503 (problem
/// `store-unavailable`, `Retry-After: 5`): nothing is authenticated, admitted or sent to IMS.
/// ``stop()`` closes it; the gateway then listens on the same port (``port``).
public final class StartingServer: Sendable {
    /// The port it listens on: `port` as given, or the one the system chose for port 0.
    public var port: Int { bound.withLock { $0 } ?? requestedPort }

    private let requestedPort: Int
    private let bound = Mutex<Int?>(nil)
    private let group: ServiceGroup
    private let running: Task<Void, any Error>

    /// Starts listening on `host`:`port` and returns once it listens.
    /// - Parameters:
    ///   - host: the gateway's `host` setting.
    ///   - port: the gateway's `port` setting (0: any free port).
    ///   - reason: the text of `/readyz`'s `detail` after `not ready: `, read at each call.
    ///   - logger: the gateway's logger.
    /// - Throws: what Hummingbird throws when it cannot bind the address (a port in use).
    public init(host: String, port: Int, reason: @escaping @Sendable () -> String, logger: Logger) async throws {
        requestedPort = port
        let listening = AsyncStream<Result<Int, any Error>>.makeStream()
        let app = Application(
            responder: Responder(reason: reason),
            configuration: .init(address: .hostname(host, port: port), serverName: "ims-gateway"),
            onServerRunning: { channel in
                listening.continuation.yield(.success(channel.localAddress?.port ?? port))
            },
            logger: logger)
        let group = ServiceGroup(configuration: .init(services: [.init(service: app)], logger: logger))
        self.group = group
        running = Task {
            defer { listening.continuation.finish() }
            do {
                try await group.run()
            } catch {
                listening.continuation.yield(.failure(error))
                throw error
            }
        }
        var first: Result<Int, any Error>?
        for await result in listening.stream {
            first = result
            break
        }
        switch first {
        case .success(let port)?: bound.withLock { $0 = port }
        case .failure(let error)?: throw error
        case nil: throw CancellationError()
        }
    }

    /// Stops listening and returns once the port is closed.
    public func stop() async {
        await group.triggerGracefulShutdown()
        _ = try? await running.value
    }

    /// The answers: every one made from the path alone.
    struct Responder: HTTPResponder {
        let reason: @Sendable () -> String

        func respond(to request: Request, context: BasicRequestContext) async throws -> Response {
            let retry: HTTPFields = [ResponseFactory.retryAfterHeader: "5"]
            switch (request.method, request.uri.path) {
            case (.get, "/healthz"), (.head, "/healthz"):
                return ResponseFactory.json(status: 200, ["status": "ok"])
            case (.get, "/readyz"), (.head, "/readyz"):
                let problem = ProblemDetails(
                    slug: "not-ready", title: "Not ready", status: 503, detail: "not ready: \(reason())", requestID: nil)
                return ResponseFactory.json(status: 503, problem, problem: true, headers: retry)
            default:
                let problem = ProblemDetails(
                    slug: "store-unavailable", title: "Store unavailable", status: 503,
                    detail: "the gateway is starting and cannot reach its store yet; nothing was sent to IMS; ask again shortly",
                    requestID: nil)
                return ResponseFactory.json(status: 503, problem, problem: true, headers: retry)
            }
        }
    }
}
