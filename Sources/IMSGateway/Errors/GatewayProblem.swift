import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// A problem answer (RFC 9457) thrown by a handler; Hummingbird turns it into the response.
struct GatewayProblem: HTTPResponseError {
    var problem: ProblemDetails
    var headers: HTTPFields

    var status: HTTPResponse.Status { .init(code: problem.status) }

    init(_ problem: ProblemDetails, headers: HTTPFields = [:]) {
        self.problem = problem
        self.headers = headers
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        ResponseFactory.json(status: problem.status, problem, problem: true, headers: headers)
    }
}

/// JSON and problem+json responses.
enum ResponseFactory {
    static let requestIDHeader = HTTPField.Name("X-Request-Id")!
    static let retryAfterHeader = HTTPField.Name("Retry-After")!
    static let preferenceAppliedHeader = HTTPField.Name("Preference-Applied")!
    static let preferHeader = HTTPField.Name("Prefer")!

    static func json(status: Int, _ value: some Encodable, problem: Bool = false, headers: HTTPFields = [:]) -> Response {
        json(status: status, utf8: Array(encoded(value)), problem: problem, headers: headers)
    }

    /// An answer whose body is `utf8`, JSON already written (``MemberStatusResult/jsonUTF8``).
    static func json(status: Int, utf8: [UInt8], problem: Bool = false, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = problem ? "application/problem+json" : "application/json"
        return Response(
            status: .init(code: status), headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: utf8)))
    }

    /// `value` as the JSON of every answer (sorted keys, slashes unescaped); `{}` when it
    /// cannot be encoded.
    static func encoded(_ value: some Encodable) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)) ?? Data("{}".utf8)
    }
}

/// A problem document that also carries a whole result (502 and 504 answers).
struct ProblemWithResult: Encodable {
    let problem: ProblemDetails
    let result: MemberStatusResult

    func encode(to encoder: any Encoder) throws {
        try result.encode(to: encoder)
        try problem.encode(to: encoder)
    }
}
