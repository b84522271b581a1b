import HTTPTypes
import Hummingbird
import NIOCore

/// The request context of the test server: the basic one plus the client's source port, which
/// tells the test which TCP connection a request came on.
struct TestRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    /// The TCP source port of the client's connection, or nil when unknown.
    let clientPort: Int?

    init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.clientPort = source.channel.remoteAddress?.port
    }
}

/// The header a test sends and the echo routes answer back in ``echoedHeaderName``.
let testHeaderName = "X-Test-Header"
/// The response header carrying the request's method on the echo routes.
let echoedMethodName = "X-Echoed-Method"
/// The response header carrying the request's ``testHeaderName`` value on the echo routes.
let echoedHeaderName = "X-Echoed-Header"
/// The response header of `/large-header/{bytes}`.
let largeHeaderName = "X-Large-Token"

/// A header value of exactly `count` characters that is not one repeated character, so a cut
/// or a duplicated chunk changes it.
func largeHeaderValue(count: Int) -> String {
    let alphabet = Array("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
    return String((0..<count).map { alphabet[($0 * 7 + $0 / alphabet.count) % alphabet.count] })
}

/// Builds the router of the test server.
///
/// Routes:
/// - `GET|PUT|POST|DELETE /echo`: 200; the request body as body; `X-Echoed-Method` and
///   `X-Echoed-Header` (the request's `X-Test-Header`) as headers.
/// - `GET /large-header/{bytes}`: 200 with `X-Large-Token` of `largeHeaderValue(count: bytes)`.
/// - `GET /item/{id}`: after 100 ms, 200 with body `item-{id}`; counts handlers running at once.
/// - `GET /sleep/{ms}`: reports the arrival to the probe, sleeps `ms` milliseconds, 200 `slept`.
/// - `GET /bytes/{count}`: `count` bytes with a `Content-Length`.
/// - `GET /stream/{count}`: `count` bytes in 4 KiB chunks without a `Content-Length`.
/// - `GET /redirect`: 302 with `Location: /echo`.
/// - `GET /connection`: 200 with the client's TCP source port as body.
func buildTestRouter(probe: TestServerProbe) -> Router<TestRequestContext> {
    let router = Router(context: TestRequestContext.self)
    let methods: [HTTPRequest.Method] = [.get, .put, .post, .delete]
    for method in methods {
        router.on("echo", method: method) { request, _ -> Response in
            var request = request
            let body = try await request.collectBody(upTo: 1 << 20)
            var headers = HTTPFields()
            headers[HTTPField.Name(echoedMethodName)!] = request.method.rawValue
            if let value = request.headers[HTTPField.Name(testHeaderName)!] {
                headers[HTTPField.Name(echoedHeaderName)!] = value
            }
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: body))
        }
    }
    router.get("large-header/:bytes") { _, context -> Response in
        let bytes = try context.parameters.require("bytes", as: Int.self)
        var headers = HTTPFields()
        headers[HTTPField.Name(largeHeaderName)!] = largeHeaderValue(count: bytes)
        return Response(status: .ok, headers: headers)
    }
    router.get("item/:id") { _, context -> String in
        let id = try context.parameters.require("id")
        probe.enter()
        defer { probe.leave() }
        try await Task.sleep(for: .milliseconds(100))
        return "item-\(id)"
    }
    router.get("sleep/:ms") { request, context -> String in
        let milliseconds = try context.parameters.require("ms", as: Int.self)
        probe.arrived(request.uri.path)
        try await Task.sleep(for: .milliseconds(milliseconds))
        return "slept"
    }
    router.get("bytes/:count") { _, context -> Response in
        let count = try context.parameters.require("count", as: Int.self)
        let buffer = ByteBuffer(repeating: UInt8(ascii: "x"), count: count)
        return Response(status: .ok, body: .init(byteBuffer: buffer))
    }
    router.get("stream/:count") { _, context -> Response in
        let count = try context.parameters.require("count", as: Int.self)
        return Response(status: .ok, body: ResponseBody { writer in
            var left = count
            while left > 0 {
                let chunk = min(left, 4096)
                try await writer.write(ByteBuffer(repeating: UInt8(ascii: "y"), count: chunk))
                left -= chunk
            }
            try await writer.finish(nil)
        })
    }
    router.get("redirect") { _, _ -> Response in
        Response(status: .found, headers: [.location: "/echo"], body: .init(byteBuffer: ByteBuffer(string: "moved")))
    }
    router.get("connection") { _, context -> String in
        context.clientPort.map(String.init) ?? "unknown"
    }
    return router
}
