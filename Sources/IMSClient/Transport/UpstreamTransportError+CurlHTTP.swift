import CurlHTTP

extension UpstreamTransportError {
    /// The error IMSClient reports for a failed ``CurlHTTPClient`` transfer: same
    /// `mayHaveReachedServer` (unless `mayHaveReachedServer` overrides it, as for IAM calls),
    /// the library's code as ``code`` and its text after `"<service> unreachable: "`.
    /// - Parameters:
    ///   - error: what libcurl reported.
    ///   - service: `IMS` or `IAM`, the start of the message.
    ///   - mayHaveReachedServer: replaces the transfer's own answer when given.
    init(_ error: CurlHTTPError, service: String, mayHaveReachedServer: Bool? = nil) {
        self.init(
            kind: Self.kind(of: error.code), code: error.code.rawValue,
            mayHaveReachedServer: mayHaveReachedServer ?? error.mayHaveReachedServer,
            message: "\(service) unreachable: \(error.message)")
    }

    /// The coarse kind of a libcurl failure (CurlErrorMapping decides the code).
    static func kind(of code: CurlHTTPError.Code) -> Kind {
        switch code {
        case .connectFailed: return .couldNotConnect
        case .hostNotResolved: return .couldNotResolve
        case .connectTimedOut, .timedOut: return .timedOut
        case .connectionLost: return .connectionReset
        case .tlsFailed: return .tls
        case .cancelled: return .cancelled
        case .responseBodyTooLarge, .shutdown, .invalidRequest, .other: return .other
        }
    }
}
