import Foundation

/// Temporary access keys with a security token, as IAM `POST /v3.0/OS-CREDENTIAL/securitytokens`
/// returns them: `{"credential": {"access", "secret", "securitytoken", "expires_at"}}` (the
/// `credential` wrapper may be left out).
public struct TemporaryCredentials: Sendable, Equatable, CustomStringConvertible {
    /// The temporary AK.
    public var accessKey: String
    /// The temporary SK. Secret.
    public var secretKey: String
    /// The security token sent as `X-Security-Token`. Secret.
    public var securityToken: String
    /// When the keys stop working.
    public var expiresAt: Date

    /// Creates a value.
    public init(accessKey: String, secretKey: String, securityToken: String, expiresAt: Date) {
        self.accessKey = accessKey
        self.secretKey = secretKey
        self.securityToken = securityToken
        self.expiresAt = expiresAt
    }

    public var description: String {
        "TemporaryCredentials(access key \(accessKey), secret key and security token <redacted>, expires_at \(expiresAt))"
    }

    /// Parses the JSON document.
    /// - Throws: ``IMSClientError/credentials(_:)`` naming the missing field (never a value).
    public static func parse(_ bytes: [UInt8]) throws(IMSClientError) -> TemporaryCredentials {
        guard let document = LenientJSON.object(bytes) else {
            throw IMSClientError.credentials("the temporary credentials file is not a JSON object")
        }
        let object = document["credential"] as? [String: Any] ?? document
        func field(_ name: String) throws(IMSClientError) -> String {
            guard let value = LenientJSON.string(object[name]) else {
                throw IMSClientError.credentials("the temporary credentials file has no \(name)")
            }
            return value
        }
        let expiresText = try field("expires_at")
        guard let expiresAt = IAMTimestamp.parse(expiresText) else {
            throw IMSClientError.credentials("the temporary credentials file has an unreadable expires_at")
        }
        return TemporaryCredentials(
            accessKey: try field("access"), secretKey: try field("secret"), securityToken: try field("securitytoken"),
            expiresAt: expiresAt)
    }
}
