/// An async/await HTTP client on libcurl's multi interface.
///
/// One `CURLM` handle driven by one dedicated thread serves every request, however many are
/// in flight; a waiting request holds no thread. Connections are pooled and reused.
/// Redirects are never followed and libcurl never installs signal handlers
/// (`CURLOPT_NOSIGNAL`).
///
/// ```swift
/// let client = try CurlHTTPClient()
/// let response = try await client.execute(CurlHTTPRequest(method: "GET", url: "http://127.0.0.1:8080/healthz"))
/// client.shutdown()
/// ```
public final class CurlHTTPClient: Sendable {
    /// Settings shared by every transfer of one client.
    public struct Configuration: Sendable {
        /// Connections open at once, all hosts together (`CURLMOPT_MAX_TOTAL_CONNECTIONS`);
        /// transfers beyond it wait in libcurl's queue. Also the size of the connection pool.
        public var maxConnections: Int
        /// PEM file of trusted CA certificates for HTTPS (`CURLOPT_CAINFO`); nil uses the system's.
        public var caBundlePath: String?

        /// Creates a configuration.
        /// - Parameters:
        ///   - maxConnections: connections at once (default 64).
        ///   - caBundlePath: CA bundle path, or nil for the system default.
        public init(maxConnections: Int = 64, caBundlePath: String? = nil) {
            self.maxConnections = max(1, maxConnections)
            self.caBundlePath = caBundlePath
        }
    }

    private let engine: CurlMultiEngine

    /// Starts the engine thread.
    /// - Throws: ``CurlHTTPError`` when libcurl cannot be initialised.
    public init(configuration: Configuration = Configuration()) throws(CurlHTTPError) {
        self.engine = try CurlMultiEngine(configuration: configuration)
    }

    deinit {
        engine.shutdown()
    }

    /// Performs one request and returns the whole response.
    ///
    /// Cancelling the calling task removes the transfer at once and throws
    /// ``CurlHTTPError/Code/cancelled``.
    /// - Throws: ``CurlHTTPError`` for every failure that produced no HTTP response; an HTTP
    ///   error status (4xx, 5xx) is a response, not an error.
    public func execute(_ request: CurlHTTPRequest) async throws(CurlHTTPError) -> CurlHTTPResponse {
        let transfer = CurlTransfer(request: request)
        do {
            return try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { continuation in
                    transfer.continuation = continuation
                    if !engine.submit(transfer) {
                        transfer.finish(.failure(CurlHTTPError.shutdown()))
                    }
                }
            } onCancel: {
                engine.cancel(transfer)
            }
        } catch let error as CurlHTTPError {
            throw error
        } catch {
            throw CurlHTTPError(code: .other, mayHaveReachedServer: true, message: "\(error)")
        }
    }

    /// Stops the client: unfinished transfers fail with ``CurlHTTPError/Code/shutdown`` and
    /// later calls fail at once. Blocks until the engine thread has ended; call it last.
    public func shutdown() {
        engine.shutdown()
    }
}
