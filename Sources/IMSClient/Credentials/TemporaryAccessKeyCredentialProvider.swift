import Foundation
import Logging
import Synchronization

/// Temporary AK/SK with a security token, read from a file that a sidecar or a rotating
/// Kubernetes secret rewrites (format: ``TemporaryCredentials``). Requests are signed like
/// ``AccessKeyCredentialProvider``'s and carry `X-Security-Token`.
///
/// The file is read again when it changes (modification time of the file the path resolves
/// to, so the symlinks of a Kubernetes secret volume are followed), when the keys come within
/// `refreshMargin` seconds of `expires_at`, and after IMS refused them. A file caught half
/// written does not stop keys that are still valid. Refused keys are paused as
/// ``AuthenticationBackoff`` describes unless the file brings new ones.
public final class TemporaryAccessKeyCredentialProvider: CredentialProvider {
    private struct Cached {
        var credentials: TemporaryCredentials
        var resolvedPath: String
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
    ///   - authenticationBackoff: seconds refused keys are first paused (default 60, doubling).
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
        self.backoff = AuthenticationBackoff(initialSeconds: authenticationBackoff)
        self.now = now
        self.logger = logger
        self.onChange = onChange
    }

    /// Signs `request` with the file's current temporary AK/SK, its security token as
    /// `X-Security-Token` and `X-Project-Id: projectID` (docs/IMS-API.md, "Temporary credentials").
    /// - Throws: ``IMSClientError/credentials(_:)`` when the file is unusable or its keys expired,
    ///   ``IMSClientError/authentication(_:)`` while refused keys are paused.
    public func authorize(_ request: inout UpstreamRequest, projectID: String) async throws(IMSClientError) {
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

    /// Forgets the refused keys (the file is read again at the next call) and pauses them.
    public func invalidate(_ request: UpstreamRequest, projectID: String, error: UpstreamError) async {
        let refused = cache.withLock { cached -> String? in
            defer { cached = nil }
            return cached?.credentials.accessKey
        }
        if let refused { backoff.refused(refused, error: error, now: now()) }
    }

    /// Ends the pause of the current keys: IMS accepted them.
    public func accepted(_ request: UpstreamRequest, projectID: String) async {
        if let accessKey = cache.withLock({ $0?.credentials.accessKey }) { backoff.accepted(accessKey) }
    }

    /// The cached credentials, read again from the file when needed.
    private func current(at date: Date) throws(IMSClientError) -> TemporaryCredentials {
        let resolved = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        let modified = (try? FileManager.default.attributesOfItem(atPath: resolved))?[.modificationDate] as? Date
        let cached = cache.withLock { $0 }
        if let cached, cached.resolvedPath == resolved, cached.modified == modified,
            date < cached.credentials.expiresAt.addingTimeInterval(-refreshMargin)
        {
            return cached.credentials
        }
        let credentials: TemporaryCredentials
        do throws(IMSClientError) {
            guard let data = FileManager.default.contents(atPath: resolved) else {
                throw IMSClientError.credentials("cannot read the temporary credentials file \(path)")
            }
            credentials = try TemporaryCredentials.parse(Array(data))
        } catch {
            // A file being rewritten in place, or removed for a moment: the cached keys serve
            // while they are valid.
            if let cached, date < cached.credentials.expiresAt {
                logger.warning("temporary credentials file unusable; keeping the loaded keys", metadata: ["path": "\(path)", "error": "\(error)"])
                return cached.credentials
            }
            throw error
        }
        let previous = cache.withLock { cached -> TemporaryCredentials? in
            defer { cached = Cached(credentials: credentials, resolvedPath: resolved, modified: modified) }
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
