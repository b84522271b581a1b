import Hummingbird
import Logging
import NIOCore

/// A real HTTP/1.1 server on 127.0.0.1 with a port chosen by the system, serving the routes
/// the CurlHTTP tests call. It lives for the duration of one ``withTestHTTPServer(_:)`` call.
struct TestHTTPServer: Sendable {
    /// The port the server listens on.
    let port: Int
    /// What the handlers observed.
    let probe: TestServerProbe

    /// `http://127.0.0.1:<port>`, without a trailing slash.
    var baseURL: String { "http://127.0.0.1:\(port)" }

    /// The absolute URL of `path` (which starts with `/`) on this server.
    func url(_ path: String) -> String { baseURL + path }
}

/// Errors of the test server helper itself.
enum TestHTTPServerError: Error {
    /// The server stopped before it reported its port.
    case didNotStart
}

/// Runs a ``TestHTTPServer`` on 127.0.0.1 port 0 for the duration of `body`, then stops it
/// (by cancelling its task, which also ends handlers still sleeping) and waits until it has
/// closed its listening socket.
/// - Throws: what `body` throws, or ``TestHTTPServerError/didNotStart`` when the server
///   stopped before reporting its port.
func withTestHTTPServer<Value: Sendable>(
    _ body: (TestHTTPServer) async throws -> Value
) async throws -> Value {
    let probe = TestServerProbe()
    // The server's own log lines (start, and the cancellation that stops it) are noise here:
    // the tests assert what the client sees.
    var logger = Logger(label: "curl-http-tests.server")
    logger.logLevel = .critical
    let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
    let app = Application(
        router: buildTestRouter(probe: probe),
        configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: "curl-http-tests"),
        onServerRunning: { channel in
            if let port = channel.localAddress?.port { portContinuation.yield(port) }
            portContinuation.finish()
        },
        logger: logger
    )
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask {
            defer { portContinuation.finish() }
            try await app.run()
        }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else {
            group.cancelAll()
            try await group.waitForAll()
            throw TestHTTPServerError.didNotStart
        }
        let server = TestHTTPServer(port: port, probe: probe)
        let result: Result<Value, any Error>
        do {
            result = .success(try await body(server))
        } catch {
            result = .failure(error)
        }
        group.cancelAll()
        // Cancellation makes the service group end; whatever it throws on the way out says
        // nothing about the client under test.
        while let _ = try? await group.next() {}
        return try result.get()
    }
}
