import CurlHTTP

/// Adds the gateway's upstream credentials to requests for IMS.
///
/// Implementations: ``IAMPasswordCredentialProvider`` (project-scoped IAM tokens sent as
/// `X-Auth-Token`).
public protocol CredentialProvider: Sendable {
    /// Adds authentication headers to `request`, made on behalf of the member project `projectID`.
    /// - Throws: ``IMSClientError/authentication(_:)`` when IAM refuses the credentials,
    ///   ``IMSClientError/transport(_:)`` when IAM is unreachable.
    func authorize(_ request: inout CurlHTTPRequest, projectID: String) async throws(IMSClientError)

    /// Tells the provider that IMS refused the credentials carried by `request`
    /// (APIGW.0301 / APIGW.0307): the next ``authorize(_:projectID:)`` must not reuse them.
    func invalidate(_ request: CurlHTTPRequest, projectID: String) async
}
