import Foundation

/// The `Authorization` value of an SDK-HMAC-SHA256 request:
/// `SDK-HMAC-SHA256 Access=AK, SignedHeaders=a;b, Signature=hex`
/// (docs/IMS-API.md, "AK/SK signing").
public struct AuthorizationHeader: Sendable, Equatable {
    /// The access key (AK) that signed the request.
    public var accessKey: String
    /// The lower-case names of the signed headers, in signing order.
    public var signedHeaders: [String]
    /// Lower-case hex HMAC-SHA256 signature.
    public var signature: String

    /// Creates a header value from its parts.
    public init(accessKey: String, signedHeaders: [String], signature: String) {
        self.accessKey = accessKey
        self.signedHeaders = signedHeaders
        self.signature = signature
    }

    /// The header value as sent.
    public var value: String {
        "\(AKSKSigner.algorithm) Access=\(accessKey), SignedHeaders=\(signedHeaders.joined(separator: ";")), Signature=\(signature)"
    }

    /// Reads an `Authorization` value.
    ///
    /// The algorithm must be `SDK-HMAC-SHA256`; the `Access`, `SignedHeaders` and `Signature`
    /// parameters may come in any order, separated by commas and optional spaces, each once.
    /// - Returns: the parts, or `nil` for another scheme, a missing or repeated parameter, or
    ///   an empty value.
    public static func parse(_ value: String) -> AuthorizationHeader? {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        let prefix = AKSKSigner.algorithm + " "
        guard trimmed.hasPrefix(prefix) else { return nil }
        var parameters: [String: String] = [:]
        for item in trimmed.dropFirst(prefix.count).split(separator: ",") {
            let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2 else { return nil }
            let name = parts[0].trimmingCharacters(in: .whitespaces)
            let value = parts[1].trimmingCharacters(in: .whitespaces)
            guard !value.isEmpty, parameters.updateValue(value, forKey: name) == nil else { return nil }
        }
        guard parameters.count == 3, let accessKey = parameters["Access"],
            let signedHeaders = parameters["SignedHeaders"], let signature = parameters["Signature"]
        else { return nil }
        return AuthorizationHeader(
            accessKey: accessKey, signedHeaders: signedHeaders.split(separator: ";").map(String.init),
            signature: signature)
    }
}
