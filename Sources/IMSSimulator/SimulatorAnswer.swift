import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// One answer of the simulator as a value (status, headers, body bytes), so that a fault can
/// still change it after the handler made it; a route returns it directly.
struct SimulatorAnswer: ResponseGenerator, Sendable {
    var status: HTTPResponse.Status
    var headers: HTTPFields
    var body: Data

    /// The answer with only the first half of its body (at least one byte shorter), which no
    /// JSON parser accepts for an object or array: the `malformed_json` fault.
    func malformed() -> SimulatorAnswer {
        var copy = self
        copy.body = body.prefix(max(0, min(body.count / 2, body.count - 1)))
        return copy
    }

    func response(from request: Request, context: some RequestContext) -> Response {
        Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}
