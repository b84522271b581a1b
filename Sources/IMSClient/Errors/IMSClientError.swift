/// Why an ``IMSClient`` call produced no usable answer.
public indirect enum IMSClientError: Error, Sendable, CustomStringConvertible {
    /// No HTTP answer (connect refused, DNS, timeout, reset) from IMS or IAM; the message says
    /// which (`IMS unreachable: ...`, `IAM unreachable: ...`). The wrapped error tells whether
    /// the request may have reached IMS (never for IAM).
    case transport(UpstreamTransportError)
    /// IMS or the API gateway answered with an error status.
    case upstream(UpstreamError)
    /// IAM refused the gateway's own credentials (wrong password, locked user), or IMS kept
    /// refusing a freshly obtained token.
    case authentication(UpstreamError)
    /// A 2xx answer whose body lacked what the operation needs (e.g. no `job_id`).
    case malformedResponse(operation: String, httpStatus: Int, detail: String)
    /// The credentials are not usable (e.g. missing password); no request was sent.
    case credentials(String)
    /// Not sent, or not accepted, before the deadline because of throttling: the upstream
    /// budget had no token in time, or IMS kept answering 429 (APIGW.0308), in which case
    /// `last` is its last answer. `retryAfter` is when a call may go again, if known.
    case throttled(last: UpstreamError?, retryAfter: Duration?)

    /// Whether the request may have reached IMS (and so may have created a job).
    public var mayHaveReachedServer: Bool {
        switch self {
        case .transport(let error): return error.mayHaveReachedServer
        case .upstream, .authentication, .malformedResponse: return true
        case .credentials, .throttled: return false
        }
    }

    /// A short machine-readable code for result documents: the upstream code when there is one
    /// (`APIGW.0301`, `IMG.0024`), else `transport.<kind>`, `upstream.http_<status>`,
    /// `upstream.authentication_failed` (IAM refused the gateway's credentials),
    /// `upstream.malformed_response` or `credentials`.
    public var errorCode: String {
        switch self {
        case .transport(let error): return "transport.\(error.code)"
        case .upstream(let error):
            return error.code ?? "upstream.http_\(error.httpStatus)"
        case .authentication(let error):
            if let code = error.code, code.uppercased().hasPrefix("APIG") { return code }
            return "upstream.authentication_failed"
        case .malformedResponse: return "upstream.malformed_response"
        case .credentials: return "credentials"
        case .throttled(let last, _): return last?.code ?? "upstream.throttled"
        }
    }

    public var description: String {
        switch self {
        case .transport(let error): return error.message
        case .upstream(let error): return "\(error.service) answered \(error)"
        case .authentication(let error): return "upstream authentication failed: \(error)"
        case .malformedResponse(let operation, let status, let detail):
            return "\(operation): unexpected HTTP \(status) answer: \(detail)"
        case .credentials(let detail): return "upstream credentials unusable: \(detail)"
        case .throttled(let last?, _):
            return "IMS throttled the gateway until the deadline (last answer: \(last))"
        case .throttled(nil, _):
            return "the gateway's IMS call budget had no room before the deadline"
        }
    }
}
