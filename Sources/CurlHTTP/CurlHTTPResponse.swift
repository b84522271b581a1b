/// The answer to a ``CurlHTTPRequest``: status, header fields and the whole body.
public struct CurlHTTPResponse: Sendable {
    /// HTTP status code of the final response (informational 1xx responses are skipped).
    public var status: Int
    /// Header fields of the final response, in the order received, values trimmed.
    public var headers: [(name: String, value: String)]
    /// Body bytes, at most the request's `maxResponseBodyBytes`.
    public var body: [UInt8]
    /// New connections libcurl opened for this transfer: 0 when a pooled one was reused.
    public var connectionsOpened: Int

    /// Creates a response (used by tests and by the client itself).
    public init(
        status: Int,
        headers: [(name: String, value: String)],
        body: [UInt8],
        connectionsOpened: Int = 0
    ) {
        self.status = status
        self.headers = headers
        self.body = body
        self.connectionsOpened = connectionsOpened
    }

    /// The first value of the header field `name`, compared case-insensitively, or nil.
    public func header(_ name: String) -> String? {
        let wanted = name.lowercased()
        return headers.first { $0.name.lowercased() == wanted }?.value
    }
}
