import CurlHTTP
import Foundation
import Logging
import Synchronization

/// Temporary AK/SK with a security token, read from a file that a sidecar or a rotating
/// Kubernetes secret rewrites (format: ``TemporaryCredentials``). Requests are signed like
/// ``AccessKeyCredentialProvider``'s and carry `X-Security-Token`.
///
/// The file is read again when it changes (modification time), when the keys come within
/// `refreshMargin` seconds of `expires_at`, and after IMS refused them. Keys that IMS refused
/// are not sent again for `authenticationBackoff` seconds unless the file brought new ones.
public final class TemporaryAccessKeyCredentialProvider: CredentialProvider {
    private struct Cached {
        var credentials: TemporaryCredentials
        var modified: Date?
    }

    private let path: String
    private let refreshMargin: TimeInterval
    private let backoff: AuthenticationBackoff
    private let now: @Sendable () -> Date
    private let logger: Logger
    private let onChange: @Sendable () -> Void
    private let cache = Mutex<Cached?>(nil)

    /// - Parameters:
    ///   - path: the JSON file.
    ///   - refreshMargin: seconds before `expires_at` at which the file is read again (default 600).
    ///   - authenticationBackoff: seconds refused keys are not sent again (default 60).
    ///   - now: the clock.
    ///   - logger: file reloads are logged (never a key or token).
    ///   - onChange: called when the file brought a different access key (readiness proves it again).
    public init(
        path: String, refreshMargin: TimeInterval = 600, authenticationBackoff: TimeInterval = 60,
        now: @escaping @Sendable () -> Date = { Date() }, logger: Logger = Logger(label: "ims-gateway.credentials"),
        onChange: @escaping @Sendable () -> Void = {}
    ) {
        self.path = path
        self.refreshMargin = refreshMargin
        self.backoff = AuthenticationBackoff(seconds: authenticationBackoff)
        self.now = now
        self.logger = logger
        self.onChange = onChange
    }

    public func authorize(_ request: inout CurlHTTPRequest, projectID: String) async throws(IMSClientError) {
        let date = now()
        let credentials = try current(at: date)
        guard date < credentials.expiresAt else {
            throw IMSClientError.credentials(
                "the temporary credentials in \(path) expired at \(credentials.expiresAt) and the file has no newer ones")
        }
        try backoff.check(credentials.accessKey, now: date)
        AKSKSigner(accessKey: credentials.accessKey, secretKey: credentials.secretKey)
            .sign(&request, projectID: projectID, securityToken: credentials.securityToken, date: date)
    }

    public func invalidate(_ request: CurlHTTPRequest, projectID: String, error: UpstreamError) async {
        let refused = cache.withLock { cached -> String? in
            defer { cached = nil }
            return cached?.credentials.accessKey
        }
        if let refused { backoff.refused(refused, error: error, now: now()) }
    }

    /// The cached credentials, read again from the file when needed.
    private func current(at date: Date) throws(IMSClientError) -> TemporaryCredentials {
        let modified = (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
        if let cached = cache.withLock({ $0 }), cached.modified == modified,
            date < cached.credentials.expiresAt.addingTimeInterval(-refreshMargin)
        {
            return cached.credentials
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            if let cached = cache.withLock({ $0 }) { return cached.credentials }
            throw IMSClientError.credentials("cannot read the temporary credentials file \(path)")
        }
        let credentials = try TemporaryCredentials.parse(Array(data))
        let previous = cache.withLock { cached -> TemporaryCredentials? in
            defer { cached = Cached(credentials: credentials, modified: modified) }
            return cached?.credentials
        }
        if previous?.accessKey != credentials.accessKey {
            logger.info(
                "temporary credentials loaded",
                metadata: ["path": "\(path)", "access_key": "\(credentials.accessKey)", "expires_at": "\(credentials.expiresAt)"])
            if previous != nil { onChange() }
        }
        return credentials
    }
}
