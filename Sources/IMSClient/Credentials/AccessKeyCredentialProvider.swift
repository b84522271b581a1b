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

    /// Signs `request` with the AK/SK and `X-Project-Id: projectID` (docs/IMS-API.md, "AK/SK signing").
    /// - Throws: ``IMSClientError/authentication(_:)`` while the key is paused after IMS refused it.
    public func authorize(_ request: inout UpstreamRequest, projectID: String) async throws(IMSClientError) {
        let date = now()
        try backoff.check(signer.accessKey, now: date)
        signer.sign(&request, projectID: projectID, securityToken: nil, date: date)
    }

    /// Pauses the key after IMS refused it (APIGW.0301 / APIGW.0307), as ``AuthenticationBackoff`` says.
    public func invalidate(_ request: UpstreamRequest, projectID: String, error: UpstreamError) async {
        backoff.refused(signer.accessKey, error: error, now: now())
    }

    /// Ends the key's pause: IMS accepted it.
    public func accepted(_ request: UpstreamRequest, projectID: String) async {
        backoff.accepted(signer.accessKey)
    }
}
