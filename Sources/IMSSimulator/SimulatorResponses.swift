import Foundation
import HTTPTypes

/// Building the simulator's answers in IMS's and the API gateway's shapes.
enum SimulatorResponses {
    static let requestIDHeader = HTTPField.Name("X-Request-Id")!

    /// A JSON answer with a new `X-Request-Id` (or `requestID`).
    static func json(
        _ status: HTTPResponse.Status, _ object: Any, headers: HTTPFields = [:], requestID: String = newRequestID()
    ) -> SimulatorAnswer {
        // No .sortedKeys: on Linux it compares keys with the locale and cost most of an answer's CPU.
        let data = (try? JSONSerialization.data(withJSONObject: object)) ?? Data()
        var fields = headers
        fields[.contentType] = "application/json;charset=UTF-8"
        fields[requestIDHeader] = requestID
        return SimulatorAnswer(status: status, headers: fields, body: data)
    }

    /// IMS's own error shape (doc ims_03_0908): `{"error": {"code": "IMG.xxxx", "message": ...}}`.
    static func imsError(_ status: HTTPResponse.Status, code: String, message: String) -> SimulatorAnswer {
        json(status, ["error": ["code": code, "message": message]])
    }

    /// The API gateway's error shape: `{"error_code": "APIGW.0301", "error_msg": ..., "request_id": ...}`;
    /// `request_id` is the answer's `X-Request-Id`, as the API gateway sends them.
    static func gatewayError(
        _ status: HTTPResponse.Status, code: String, message: String, headers: HTTPFields = [:]
    ) -> SimulatorAnswer {
        let requestID = newRequestID()
        return json(
            status, ["error_code": code, "error_msg": message, "request_id": requestID], headers: headers,
            requestID: requestID)
    }

    /// 429 APIGW.0308 with the API gateway's message for `limit` calls per `window`
    /// (docs/IMS-API.md, "Throttling").
    static func throttled(limit: Int, window: String, headers: HTTPFields = [:]) -> SimulatorAnswer {
        gatewayError(
            .tooManyRequests, code: "APIGW.0308",
            message: "The throttling threshold has been reached: policy user over ratelimit, limit:\(limit), time:\(window)",
            headers: headers)
    }

    static func newRequestID() -> String {
        UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
    }

    /// `2026-11-29T06:15:56Z`.
    static func timestamp(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle())
    }

    /// IAM's `expires_at`: `2026-11-30T06:15:56.123000Z`.
    static func iamTimestamp(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
            .replacingOccurrences(of: "Z", with: "000Z")
    }

    /// An HTTP-date (RFC 9110 IMF-fixdate), e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
    static func httpDate(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        return formatter.string(from: date)
    }

    /// Unix epoch milliseconds, as `/_sim/jobs` reports times.
    static func epochMilliseconds(_ date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 * 1000).rounded())
    }
}
