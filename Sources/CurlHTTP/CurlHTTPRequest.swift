/// One outbound HTTP request for ``CurlHTTPClient``.
///
/// The URL is used as given: callers escape path segments themselves. Redirects are never
/// followed, so a 3xx comes back as a response.
public struct CurlHTTPRequest: Sendable {
    /// HTTP method, upper case (`GET`, `PUT`, `POST`, `DELETE`, `HEAD`, ...).
    public var method: String
    /// Absolute `http://` or `https://` URL.
    public var url: String
    /// Request header fields in the order they are sent. Names are sent as given.
    public var headers: [(name: String, value: String)]
    /// Request body bytes; empty for none.
    public var body: [UInt8]
    /// Limit for the whole transfer (connect, send, wait, receive), in milliseconds.
    public var timeoutMilliseconds: Int
    /// Limit for establishing the connection (TCP and TLS), in milliseconds.
    public var connectTimeoutMilliseconds: Int
    /// Largest response body accepted, in bytes; a larger one fails with
    /// ``CurlHTTPError/responseBodyTooLarge``.
    public var maxResponseBodyBytes: Int

    /// Creates a request.
    /// - Parameters:
    ///   - method: HTTP method, upper case.
    ///   - url: absolute URL, already escaped.
    ///   - headers: header fields, sent in this order.
    ///   - body: body bytes (empty for none).
    ///   - timeoutMilliseconds: total limit in ms (default 30,000).
    ///   - connectTimeoutMilliseconds: connect limit in ms (default 5,000).
    ///   - maxResponseBodyBytes: response body cap in bytes (default 4 MiB).
    public init(
        method: String,
        url: String,
        headers: [(name: String, value: String)] = [],
        body: [UInt8] = [],
        timeoutMilliseconds: Int = 30_000,
        connectTimeoutMilliseconds: Int = 5_000,
        maxResponseBodyBytes: Int = 4 << 20
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeoutMilliseconds = timeoutMilliseconds
        self.connectTimeoutMilliseconds = connectTimeoutMilliseconds
        self.maxResponseBodyBytes = maxResponseBodyBytes
    }
}
