/// Why a ``CurlHTTPClient`` transfer produced no response.
///
/// The one question a caller must answer before repeating a request is whether the first one
/// may have reached the server: ``mayHaveReachedServer`` says so. Connection refused, DNS
/// failures, connect timeouts and invalid requests are `false` (nothing was sent); timeouts and
/// resets after the connection was made are `true` (the server may have acted on it).
public struct CurlHTTPError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kind of failure.
    public enum Code: String, Sendable, Equatable {
        /// The TCP connection was refused or could not be made.
        case connectFailed
        /// The host name did not resolve.
        case hostNotResolved
        /// The connect timeout passed before a connection existed.
        case connectTimedOut
        /// The total timeout passed after the connection existed.
        case timedOut
        /// The connection failed while sending or receiving (reset, closed, empty reply).
        case connectionLost
        /// TLS handshake or certificate failure.
        case tlsFailed
        /// The response body exceeded the request's `maxResponseBodyBytes`.
        case responseBodyTooLarge
        /// The Swift task was cancelled; the transfer was removed.
        case cancelled
        /// The client was shut down before the transfer finished.
        case shutdown
        /// The request could not be started (bad URL, unsupported protocol, bad option).
        case invalidRequest
        /// Any other libcurl failure.
        case other
    }

    /// The kind of failure.
    public let code: Code
    /// Whether the server may have received (and acted on) the request.
    public let mayHaveReachedServer: Bool
    /// libcurl's `CURLcode` number, or 0 when the failure did not come from libcurl.
    public let curlCode: Int
    /// libcurl's error text or our own; never contains header values or bodies.
    public let message: String

    /// Creates an error.
    public init(code: Code, mayHaveReachedServer: Bool, curlCode: Int = 0, message: String) {
        self.code = code
        self.mayHaveReachedServer = mayHaveReachedServer
        self.curlCode = curlCode
        self.message = message
    }

    public var description: String {
        "CurlHTTPError(\(code.rawValue), mayHaveReachedServer: \(mayHaveReachedServer), curl \(curlCode): \(message))"
    }

    static func cancelled() -> CurlHTTPError {
        CurlHTTPError(code: .cancelled, mayHaveReachedServer: true, message: "the task was cancelled")
    }

    static func shutdown() -> CurlHTTPError {
        CurlHTTPError(code: .shutdown, mayHaveReachedServer: true, message: "the HTTP client was shut down")
    }
}
