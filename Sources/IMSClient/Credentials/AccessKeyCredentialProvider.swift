import CurlHTTP
import Foundation

/// A permanent access key: every IMS request is signed with SDK-HMAC-SHA256 (docs/IMS-API.md,
/// "AK/SK signing") and carries `X-Project-Id` of the member project. Nothing is cached and nothing
/// expires; once IMS refuses the key, it is paused as ``AuthenticationBackoff`` describes (60 s
/// doubling per consecutive refusal, then one trial at a time), so a wrong secret key cannot
/// lock the AK.
public final class AccessKeyCredentialProvider: CredentialProvider {
    private let signer: AKSKSigner
    private let backoff: AuthenticationBackoff
    private let now: @Sendable () -> Date

    /// - Parameters:
    ///   - accessKey: the AK.
    ///   - secretKey: the SK. Secret: never logged.
    ///   - authenticationBackoff: seconds a refused key is first paused (default 60; doubled per
    ///     consecutive refusal, at most 900).
    ///   - now: the clock (`X-Sdk-Date`).
    public init(
        accessKey: String, secretKey: String, authenticationBackoff: TimeInterval = 60,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.signer = AKSKSigner(accessKey: accessKey, secretKey: secretKey)
        self.backoff = AuthenticationBackoff(initialSeconds: authenticationBackoff)
        self.now = now
    }

    public func authorize(_ request: inout CurlHTTPRequest, projectID: String) async throws(IMSClientError) {
        let date = now()
        try backoff.check(signer.accessKey, now: date)
        signer.sign(&request, projectID: projectID, securityToken: nil, date: date)
    }

    public func invalidate(_ request: CurlHTTPRequest, projectID: String, error: UpstreamError) async {
        backoff.refused(signer.accessKey, error: error, now: now())
    }

    public func accepted(_ request: CurlHTTPRequest, projectID: String) async {
        backoff.accepted(signer.accessKey)
    }
}
