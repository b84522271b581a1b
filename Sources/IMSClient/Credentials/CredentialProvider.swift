/// Adds the gateway's upstream credentials to requests for IMS.
///
/// Implementations: ``IAMPasswordCredentialProvider`` (project-scoped IAM tokens sent as
/// `X-Auth-Token`), ``AccessKeyCredentialProvider`` (permanent AK/SK, every request signed) and
/// ``TemporaryAccessKeyCredentialProvider`` (temporary AK/SK with a security token, read from a
/// file that is re-read before expiry).
public protocol CredentialProvider: Sendable {
    /// Adds authentication headers to `request`, made on behalf of the member project `projectID`.
    /// - Throws: ``IMSClientError/authentication(_:)`` when IAM refuses the credentials,
    ///   ``IMSClientError/transport(_:)`` when IAM is unreachable.
    func authorize(_ request: inout UpstreamRequest, projectID: String) async throws(IMSClientError)

    /// Tells the provider that IMS refused the credentials carried by `request`
    /// (APIGW.0301 / APIGW.0307, given as `error`): the next ``authorize(_:projectID:)`` must not
    /// reuse them, and must refuse at once (throwing ``IMSClientError/authentication(_:)``)
    /// rather than send credentials that cannot have changed: repeated failures lock an AK.
    func invalidate(_ request: UpstreamRequest, projectID: String, error: UpstreamError) async

    /// Tells the provider that IMS answered `request` without refusing its credentials (any
    /// status but 401): a provider that paused after refusals may stop pausing.
    func accepted(_ request: UpstreamRequest, projectID: String) async
}

extension CredentialProvider {
    /// Nothing to do by default.
    public func accepted(_ request: UpstreamRequest, projectID: String) async {}
}
