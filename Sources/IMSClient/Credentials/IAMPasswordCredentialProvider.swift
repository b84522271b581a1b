import CurlHTTP
import Foundation
import Logging

/// Project-scoped IAM tokens from password credentials, sent to IMS as `X-Auth-Token`.
///
/// Tokens come from IAM `POST /v3/auth/tokens?nocatalog=true` (doc iam_30_0001) scoped to the
/// member project, are cached per project and refreshed ahead of `expires_at` by one call at a
/// time (see ``TokenCache``). Neither the password nor a token is ever logged.
public final class IAMPasswordCredentialProvider: CredentialProvider {
    private let cache: TokenCache

    /// - Parameters:
    ///   - credentials: the IAM user's password credentials.
    ///   - iamBaseURL: e.g. `https://iam.cn-north-4.myhuaweicloud.com` (no trailing slash needed).
    ///   - http: the client all calls go through.
    ///   - refreshMargin: seconds before `expires_at` at which a token is renewed (default 1,800).
    ///   - timeoutMilliseconds: total limit of one IAM call in ms.
    ///   - connectTimeoutMilliseconds: connect limit of one IAM call in ms.
    ///   - now: the clock (tests inject one).
    ///   - logger: where token refreshes are logged (never the token).
    ///   - metrics: token requests are counted and timed there.
    public init(
        credentials: IAMPasswordCredentials,
        iamBaseURL: String,
        http: CurlHTTPClient,
        refreshMargin: TimeInterval = 1800,
        timeoutMilliseconds: Int = 30_000,
        connectTimeoutMilliseconds: Int = 5_000,
        now: @escaping @Sendable () -> Date = { Date() },
        logger: Logger = Logger(label: "ims-gateway.iam"),
        metrics: UpstreamMetrics = .disabled
    ) {
        let url = iamBaseURL.trimmingSuffix("/") + "/v3/auth/tokens?nocatalog=true"
        self.cache = TokenCache(refreshMargin: refreshMargin, now: now) { (projectID: String) async throws(IMSClientError) -> IAMToken in
            let body = Self.passwordBody(credentials, projectID: projectID)
            let request = CurlHTTPRequest(
                method: "POST", url: url,
                headers: [("Content-Type", "application/json;charset=UTF-8")],
                body: body, timeoutMilliseconds: timeoutMilliseconds,
                connectTimeoutMilliseconds: connectTimeoutMilliseconds)
            let response: CurlHTTPResponse
            let started = ContinuousClock.now
            let operation = "KeystoneCreateUserTokenByPassword"
            do throws(CurlHTTPError) {
                response = try await http.execute(request)
                metrics.call(operation: operation, status: "\(response.status)", duration: started.duration(to: .now))
            } catch {
                metrics.call(operation: operation, status: "transport_\(error.code.rawValue)", duration: started.duration(to: .now))
                metrics.tokenRefresh(result: "failure")
                logger.warning("IAM unreachable", metadata: ["project_id": "\(projectID)", "error": "\(error.message)"])
                // IMS was not called, so no job can exist because of this failure.
                throw IMSClientError.transport(
                    UpstreamTransportError(error, service: "IAM", mayHaveReachedServer: false))
            }
            guard (200..<300).contains(response.status) else {
                var error = UpstreamError(
                    httpStatus: response.status, body: response.body, requestID: response.header("X-Request-Id"),
                    retryAfter: response.header("Retry-After"))
                error.service = "IAM"
                logger.warning("IAM refused a token request", metadata: ["project_id": "\(projectID)", "error": "\(error)"])
                metrics.tokenRefresh(result: "failure")
                if [400, 401, 403].contains(response.status) { throw IMSClientError.authentication(error) }
                throw IMSClientError.upstream(error)
            }
            guard let value = response.header("X-Subject-Token"), !value.isEmpty else {
                metrics.tokenRefresh(result: "failure")
                throw IMSClientError.malformedResponse(
                    operation: operation, httpStatus: response.status,
                    detail: "no X-Subject-Token header")
            }
            let object = LenientJSON.object(response.body)
            let token = object?["token"] as? [String: Any]
            let expiresAt = LenientJSON.string(token?["expires_at"]).flatMap(IAMTimestamp.parse)
                ?? now().addingTimeInterval(3600)
            logger.info("IAM token obtained", metadata: ["project_id": "\(projectID)", "expires_at": "\(expiresAt)"])
            metrics.tokenRefresh(result: "success")
            return IAMToken(value: value, expiresAt: expiresAt)
        }
    }


    /// Puts the project's cached IAM token (obtained or renewed first when needed) in `X-Auth-Token`.
    /// - Throws: ``IMSClientError/authentication(_:)`` when IAM refuses the password,
    ///   ``IMSClientError/transport(_:)`` when IAM is unreachable.
    public func authorize(_ request: inout UpstreamRequest, projectID: String) async throws(IMSClientError) {
        let token = try await cache.token(for: projectID)
        request.headers.removeAll { $0.name.lowercased() == "x-auth-token" }
        request.headers.append((name: "X-Auth-Token", value: token.value))
    }

    /// Drops the token `request` carried, so that the next call obtains a new one.
    public func invalidate(_ request: UpstreamRequest, projectID: String, error: UpstreamError) async {
        guard let value = request.headers.first(where: { $0.name.lowercased() == "x-auth-token" })?.value else { return }
        await cache.invalidate(projectID: projectID, tokenValue: value)
    }

    static func passwordBody(_ credentials: IAMPasswordCredentials, projectID: String) -> [UInt8] {
        let body: [String: Any] = [
            "auth": [
                "identity": [
                    "methods": ["password"],
                    "password": [
                        "user": [
                            "domain": ["name": credentials.domainName],
                            "name": credentials.userName,
                            "password": credentials.password,
                        ]
                    ],
                ],
                "scope": ["project": ["id": projectID]],
            ]
        ]
        return (try? Array(JSONSerialization.data(withJSONObject: body, options: [.sortedKeys]))) ?? []
    }
}

extension String {
    func trimmingSuffix(_ suffix: String) -> String {
        var text = self
        while text.hasSuffix(suffix) { text.removeLast(suffix.count) }
        return text
    }
}
