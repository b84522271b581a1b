/// One request for IMS (or IAM) as credentials and signing see it: method, URL, headers and
/// body, in IMSClient's own terms. ``CredentialProvider`` adds its token or signature to it and
/// ``AKSKSigner`` signs it (docs/IMS-API.md, "AK/SK signing"); ``IMSClient`` turns it into the
/// HTTP library's request, with its time limits, only when it sends it.
public struct UpstreamRequest: Sendable {
    /// HTTP method, upper case (`GET`, `PUT`, `POST`, ...).
    public var method: String
    /// Absolute `http://` or `https://` URL, already escaped; sent as it stands.
    public var url: String
    /// Header fields in the order they are sent; names are sent as given.
    public var headers: [(name: String, value: String)]
    /// Body bytes; empty for none.
    public var body: [UInt8]

    /// Creates a request.
    /// - Parameters:
    ///   - method: HTTP method, upper case.
    ///   - url: absolute URL, already escaped.
    ///   - headers: header fields, sent in this order.
    ///   - body: body bytes (empty for none).
    public init(method: String, url: String, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
    }

    /// The value of the last header named `name` (compared without regard to case), or nil.
    public func header(_ name: String) -> String? {
        let lowered = name.lowercased()
        return headers.last { $0.name.lowercased() == lowered }?.value
    }
}
