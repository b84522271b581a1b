import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Building the simulator's answers in IMS's and the API gateway's shapes.
enum SimulatorResponses {
    static let requestIDHeader = HTTPField.Name("X-Request-Id")!

    static func json(_ status: HTTPResponse.Status, _ object: Any, headers: HTTPFields = [:]) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        var fields = headers
        fields[.contentType] = "application/json;charset=UTF-8"
        fields[requestIDHeader] = newRequestID()
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// IMS's own error shape (doc ims_03_0908): `{"error": {"code": "IMG.xxxx", "message": ...}}`.
    static func imsError(_ status: HTTPResponse.Status, code: String, message: String) -> Response {
        json(status, ["error": ["code": code, "message": message]])
    }

    /// The API gateway's error shape: `{"error_code": "APIGW.0301", "error_msg": ..., "request_id": ...}`.
    static func gatewayError(_ status: HTTPResponse.Status, code: String, message: String) -> Response {
        json(status, ["error_code": code, "error_msg": message, "request_id": newRequestID()])
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
}
