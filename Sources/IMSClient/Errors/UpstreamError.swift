/// An error answer from IMS, IAM or the API gateway in front of them.
///
/// Parsed like the official SDK (`huaweicloudsdkcore/exceptions/exception_handler.py`): the
/// first of `error_code`/`error_msg`, `errorCode`/`errorMsg`, `code`/`message`, searched at the
/// top level and then inside nested objects (IMS native `{"error": {"code", "message"}}`), else
/// only the HTTP status. The `X-Request-Id` response header is kept for support tickets.
public struct UpstreamError: Error, Sendable, Equatable, CustomStringConvertible {
    /// HTTP status of the answer.
    public var httpStatus: Int
    /// Error code such as `APIGW.0301` or `IMG.0024`, when the body had one.
    public var code: String?
    /// The upstream message, at most 512 characters.
    public var message: String?
    /// `X-Request-Id` of the answer.
    public var requestID: String?
    /// `Retry-After` of the answer, as sent.
    public var retryAfter: String?
    /// Which service answered: `IMS` (behind the API gateway) or `IAM`.
    public var service: String = "IMS"

    /// Creates an error value.
    public init(httpStatus: Int, code: String?, message: String?, requestID: String? = nil, retryAfter: String? = nil) {
        self.httpStatus = httpStatus
        self.code = code
        self.message = message
        self.requestID = requestID
        self.retryAfter = retryAfter
    }

    /// Parses an error response body (any of the shapes above; anything else gives code nil).
    public init(httpStatus: Int, body: [UInt8], requestID: String?, retryAfter: String? = nil) {
        var code: String?
        var message: String?
        var bodyRequestID: String?
        if let object = LenientJSON.object(body), let found = Self.find(in: object, depth: 0) {
            code = found.code
            message = found.message
            bodyRequestID = LenientJSON.string(object["request_id"])
        } else if !body.isEmpty {
            // Decoded whole and cut below by characters: cutting the bytes could split a
            // multi-byte character and leave U+FFFD at the end.
            message = String(decoding: body, as: UTF8.self)
        }
        self.init(
            httpStatus: httpStatus, code: code.map { String($0.prefix(Job.maxShortFieldCharacters)) },
            message: message.map { String($0.prefix(512)) },
            requestID: (requestID ?? bodyRequestID).map { String($0.prefix(Job.maxShortFieldCharacters)) },
            retryAfter: retryAfter)
    }

    private static let keyPairs = [("error_code", "error_msg"), ("errorCode", "errorMsg"), ("code", "message")]

    private static func find(in object: [String: Any], depth: Int) -> (code: String?, message: String?)? {
        for (codeKey, messageKey) in keyPairs {
            let code = LenientJSON.string(object[codeKey])
            let message = LenientJSON.string(object[messageKey])
            if code != nil || message != nil { return (code, message) }
        }
        guard depth < 4 else { return nil }
        for key in object.keys.sorted() {
            if let nested = object[key] as? [String: Any], let found = find(in: nested, depth: depth + 1) {
                return found
            }
        }
        return nil
    }

    /// `APIGW.0301`/`APIG.0301` (bad token or signature) or `APIGW.0307` (token must be
    /// updated), or a bare 401. Codes of other services (`IMG.0307`) do not count.
    public var isAuthenticationFailure: Bool {
        httpStatus == 401 || isGatewayCode("0301") || isGatewayCode("0307")
    }

    /// 429 or `APIGW.0308` (throttled).
    public var isThrottled: Bool {
        httpStatus == 429 || isGatewayCode("0308")
    }

    /// Whether `code` is the API gateway's (`APIGW.` or `APIG.` prefix) `number`.
    private func isGatewayCode(_ number: String) -> Bool {
        guard let code = code?.uppercased() else { return false }
        return code == "APIGW.\(number)" || code == "APIG.\(number)"
    }

    /// 5xx: the service may work on a later try.
    public var isServerError: Bool {
        httpStatus >= 500
    }

    public var description: String {
        var text = "HTTP \(httpStatus)"
        if let code, code != "\(httpStatus)" { text += " \(code)" }
        if let message { text += ": \(message)" }
        if let requestID { text += " (X-Request-Id \(requestID))" }
        return text
    }
}
