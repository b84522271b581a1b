import Foundation

/// Why a call to IMS or IAM got no HTTP answer at all (connect refused, DNS, timeout, reset,
/// TLS, cancellation), in IMSClient's own terms: nothing of the HTTP library it sends through
/// shows here, so code above IMSClient can build, match and fake these errors.
///
/// The one question a caller must answer before repeating a call is whether the first one may
/// have reached the server: ``mayHaveReachedServer`` says so. A refused connection, a name that
/// did not resolve, a connect timeout, a TLS failure and a request that could not be started are
/// `false` (nothing was sent); a timeout or a reset after the connection existed, a cancelled
/// transfer and any other failure are `true` (the server may have acted on it, e.g. IMS may
/// have created the job of a BatchUpdateMembers, docs/IMS-API.md "Batch update image member
/// status"). An IAM call is always `false` as seen from IMS: IMS was not called.
public struct UpstreamTransportError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The coarse kind of failure.
    public enum Kind: String, Sendable, Equatable, CaseIterable {
        /// A time limit passed: the connect limit before a connection existed, or the call's
        /// total limit after (see ``UpstreamTransportError/mayHaveReachedServer``).
        case timedOut
        /// The TCP connection was refused or could not be made.
        case couldNotConnect
        /// The host name (or the proxy's) did not resolve.
        case couldNotResolve
        /// The connection failed while sending or receiving (reset, closed, empty reply).
        case connectionReset
        /// The TLS handshake or the certificate check failed.
        case tls
        /// The calling task was cancelled and the transfer removed.
        case cancelled
        /// Anything else: an answer too large, a client shut down, a request that could not be
        /// started, another library failure.
        case other
    }

    /// The coarse kind of failure.
    public let kind: Kind
    /// The finer name of the failure, stable across releases: `connectFailed`,
    /// `hostNotResolved`, `connectTimedOut`, `timedOut`, `connectionLost`, `tlsFailed`,
    /// `responseBodyTooLarge`, `cancelled`, `shutdown`, `invalidRequest` or `other`. It is the
    /// `<kind>` of ``IMSClientError/errorCode`` (`transport.<code>`) and of the upstream call
    /// metric's `transport_<code>` status.
    public let code: String
    /// Whether the server may have received (and acted on) the request.
    public let mayHaveReachedServer: Bool
    /// What happened, safe for logs and result documents: the library's error text after
    /// `IMS unreachable: ` or `IAM unreachable: `, without header values, bodies or the
    /// user-info part of any URL.
    public let message: String

    /// Creates an error (fakes of ``IMSJobs`` and tests build them; IMSClient makes its own).
    /// - Parameters:
    ///   - kind: the coarse kind.
    ///   - code: the finer name (see ``code``); `nil` for `kind`'s raw value.
    ///   - mayHaveReachedServer: whether the server may have received the request.
    ///   - message: what happened; user info in URLs is removed from it.
    public init(kind: Kind, code: String? = nil, mayHaveReachedServer: Bool, message: String) {
        self.kind = kind
        self.code = code ?? kind.rawValue
        self.mayHaveReachedServer = mayHaveReachedServer
        self.message = Self.redactingUserInfo(message)
    }

    /// `UpstreamTransportError(<code>, mayHaveReachedServer: <bool>: <message>)`.
    public var description: String {
        "UpstreamTransportError(\(code), mayHaveReachedServer: \(mayHaveReachedServer): \(message))"
    }

    /// `text` with the user-info part of every `scheme://user:password@host` URL replaced by
    /// `<redacted>`: such a URL would carry credentials.
    static func redactingUserInfo(_ text: String) -> String {
        guard text.contains("://"), text.contains("@") else { return text }
        var output = ""
        var rest = Substring(text)
        while let marker = rest.range(of: "://") {
            output += rest[..<marker.upperBound]
            rest = rest[marker.upperBound...]
            // The authority ends at the first `/`, `?`, `#` or white space.
            let end = rest.firstIndex { "/?# \t\r\n\"'<>".contains($0) } ?? rest.endIndex
            let authority = rest[..<end]
            if let at = authority.lastIndex(of: "@") {
                output += "<redacted>@"
                rest = rest[rest.index(after: at)...]
            }
        }
        return output + rest
    }
}
