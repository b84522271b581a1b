import Foundation
import IMSGateway
import IMSSimulator
import Testing

/// HTTP/1.1 framing as a hostile client sends it (RFC 9112), from a raw TCP socket against a
/// real gateway on loopback: every answer is a problem document with an exact status, and no
/// job reaches the simulator from a request that was refused.
@Suite("hostile HTTP framing", .serialized)
struct HTTPFramingHostileTests {
    static let images = testImages(2, seed: 12)
    static let body = #"{"project_id":"\#(testProjectID)","images":["\#(images[0])","\#(images[1])"]}"#
    static let authorization = "Authorization: Bearer \(testClientKey)"

    /// A request head: the request line and the fields, each line ended by CRLF, then the empty line.
    static func head(_ requestLine: String, _ fields: [String]) -> String {
        ([requestLine] + fields).map { $0 + "\r\n" }.joined() + "\r\n"
    }

    /// The head of a chunked POST /accept-images with the test client's key.
    static func chunkedPost(transferEncoding: String = "chunked") -> String {
        head(
            "POST /accept-images HTTP/1.1",
            ["Host: gateway", authorization, "Content-Type: application/json", "Transfer-Encoding: \(transferEncoding)"])
    }

    /// `text` as one chunk of the chunked coding, with the size it really has.
    static func chunk(_ text: String) -> String {
        String(text.utf8.count, radix: 16) + "\r\n" + text + "\r\n"
    }

    /// Checks that `response` is a problem document of `status` and `slug` with a request id.
    static func expectProblem(
        _ response: RawHTTPConnection.Response, status: Int, slug: String, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(response.status == status, "\(response)", sourceLocation: sourceLocation)
        #expect(response.header("Content-Type") == "application/problem+json", sourceLocation: sourceLocation)
        #expect(response.json["type"] as? String == "urn:ims-gateway:problem:\(slug)", sourceLocation: sourceLocation)
        #expect(response.json["status"] as? Int == status, sourceLocation: sourceLocation)
        #expect(response.header("X-Request-Id")?.isEmpty == false, sourceLocation: sourceLocation)
    }

    /// Checks that the answer said `Connection: close` and that the gateway closed.
    static func expectClosed(
        _ response: RawHTTPConnection.Response, _ connection: RawHTTPConnection,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        #expect(response.header("Connection") == "close", sourceLocation: sourceLocation)
        #expect(try await connection.closes(within: .seconds(3)), sourceLocation: sourceLocation)
    }

    @Test("a chunk size that is not hexadecimal is answered 400, never 500, and nothing is submitted", arguments: ["zz", "-5"])
    func malformedChunkSize(size: String) async throws {
        try await withGateway(shared: Self.images) { harness in
            let connection = try await RawHTTPConnection.open(port: harness.gateway.port)
            try await connection.send(Self.chunkedPost() + "\(size)\r\n" + Self.body + "\r\n0\r\n\r\n")
            let response = try await connection.readResponse()
            Self.expectProblem(response, status: 400, slug: "bad-request")
            #expect((response.json["detail"] as? String)?.contains("chunk size") == true)
            try await Self.expectClosed(response, connection)
            #expect(try await harness.simulatorCalls("BatchUpdateMembers") == 0)
        }
    }

    @Test("a chunk with fewer bytes than its size, then the end of the stream, is answered 400")
    func chunkShorterThanItsSize() async throws {
        try await withGateway(shared: Self.images) { harness in
            let connection = try await RawHTTPConnection.open(port: harness.gateway.port)
            // 0x400 bytes announced; the whole JSON body and the last chunk are fewer.
            try await connection.send(Self.chunkedPost() + "400\r\n" + Self.body + "\r\n0\r\n\r\n")
            connection.shutdownWrite()
            let response = try await connection.readResponse()
            Self.expectProblem(response, status: 400, slug: "bad-request")
            try await Self.expectClosed(response, connection)
            #expect(try await harness.simulatorCalls("BatchUpdateMembers") == 0)
        }
    }

    @Test("a chunk with fewer bytes than its size on a connection kept open is closed at the idle timeout, unanswered")
    func chunkShorterThanItsSizeKeptOpen() async throws {
        try await withGateway(shared: Self.images, adjust: { $0.idleTimeoutSeconds = 1 }) { harness in
            let connection = try await RawHTTPConnection.open(port: harness.gateway.port)
            try await connection.send(Self.chunkedPost() + "400\r\n" + Self.body + "\r\n0\r\n\r\n")
            #expect(try await connection.closes(within: .seconds(5)))
            #expect(try await connection.unparsed().isEmpty)
            #expect(try await harness.simulatorCalls("BatchUpdateMembers") == 0)
        }
    }

    @Test("a chunk with more bytes than its size is answered 400 and its JSON is never parsed")
    func chunkLongerThanItsSize() async throws {
        try await withGateway(shared: Self.images) { harness in
            let connection = try await RawHTTPConnection.open(port: harness.gateway.port)
            try await connection.send(Self.chunkedPost() + "5\r\n" + Self.body + "\r\n0\r\n\r\n")
            let response = try await connection.readResponse()
            Self.expectProblem(response, status: 400, slug: "bad-request")
            try await Self.expectClosed(response, connection)
            #expect(try await harness.simulatorCalls("BatchUpdateMembers") == 0)
        }
    }

    @Test(
        "a transfer coding other than chunked is answered 501 and the body is never parsed",
        arguments: ["gzip, chunked", "xchunked", "identity", "Chunked;q=1"])
    func unknownTransferCoding(codings: String) async throws {
        try await withGateway(shared: Self.images) { harness in
            let connection = try await RawHTTPConnection.open(port: harness.gateway.port)
            try await connection.send(Self.chunkedPost(transferEncoding: codings) + Self.chunk(Self.body) + "0\r\n\r\n")
            let response = try await connection.readResponse()
            Self.expectProblem(response, status: 501, slug: "not-implemented")
            #expect((response.json["detail"] as? String)?.contains("only chunked is") == true)
            try await Self.expectClosed(response, connection)
            #expect(try await harness.simulatorCallsTotal() == 0)
        }
    }

    @Test("chunked twice, chunked before another coding, or chunked with Content-Length is answered 400")
    func ambiguousLength() async throws {
        try await withGateway(shared: Self.images) { harness in
            for fields in [
                ["Transfer-Encoding: chunked, chunked"], ["Transfer-Encoding: chunked, gzip"],
                ["Transfer-Encoding: chunked", "Content-Length: 5"],
            ] {
                let connection = try await RawHTTPConnection.open(port: harness.gateway.port)
                try await connection.send(
                    Self.head(
                        "POST /accept-images HTTP/1.1",
                        ["Host: gateway", Self.authorization, "Content-Type: application/json"] + fields)
                        + Self.chunk(Self.body) + "0\r\n\r\n")
                let response = try await connection.readResponse()
                Self.expectProblem(response, status: 400, slug: "bad-request")
                try await Self.expectClosed(response, connection)
            }
            #expect(try await harness.simulatorCallsTotal() == 0)
        }
    }

    @Test("a correct chunked body is served")
    func chunkedBody() async throws {
        try await withGateway(shared: Self.images) { harness in
            let connection = try await RawHTTPConnection.open(port: harness.gateway.port)
            let half = Self.body.index(Self.body.startIndex, offsetBy: 20)
            try await connection.send(
                Self.chunkedPost() + Self.chunk(String(Self.body[..<half])) + Self.chunk(String(Self.body[half...])) + "0\r\n\r\n")
            let response = try await connection.readResponse()
            #expect(response.status == 200, "\(response)")
            #expect(response.header("Connection") == nil)
            #expect(try await harness.simulatorCalls("BatchUpdateMembers") == 1)
        }
    }

    @Test(
        "an HTTP/1.1 request without Host, with two Host fields or an invalid one is answered 400",
        arguments: [[String](), ["Host: a", "Host: b"], ["Host: a b"]])
    func hostField(hosts: [String]) async throws {
        try await withGateway(shared: Self.images) { harness in
            let connection = try await RawHTTPConnection.open(port: harness.gateway.port)
            try await connection.send(
                Self.head("POST /accept-images HTTP/1.1", hosts + [Self.authorization, "Content-Type: application/json", "Content-Length: \(Self.body.utf8.count)"])
                    + Self.body)
            let response = try await connection.readResponse()
            Self.expectProblem(response, status: 400, slug: "bad-request")
            #expect((response.json["detail"] as? String)?.contains("Host") == true)
            try await Self.expectClosed(response, connection)
            #expect(try await harness.simulatorCallsTotal() == 0)
        }
    }

    @Test("an HTTP/1.0 request without Host is served, and its connection closed after the answer")
    func http10Closes() async throws {
        try await withGateway(shared: Self.images) { harness in
            let connection = try await RawHTTPConnection.open(port: harness.gateway.port)
            try await connection.send(Self.head("GET /healthz HTTP/1.0", []))
            let response = try await connection.readResponse()
            #expect(response.status == 200, "\(response)")
            #expect(response.json["status"] as? String == "ok")
            try await Self.expectClosed(response, connection)
        }
    }

    @Test("an HTTP/1.0 request with keep-alive keeps its connection for the next request")
    func http10KeepAlive() async throws {
        try await withGateway(shared: Self.images) { harness in
            let connection = try await RawHTTPConnection.open(port: harness.gateway.port)
            for _ in 0..<2 {
                try await connection.send(Self.head("GET /healthz HTTP/1.0", ["Connection: keep-alive"]))
                let response = try await connection.readResponse()
                #expect(response.status == 200, "\(response)")
                #expect(response.header("Connection") == "keep-alive")
            }
            #expect(try await connection.closes(within: .milliseconds(300)) == false)
        }
    }

    @Test("an HTTP/1.1 request with Connection: close (any letter case) is answered and its connection closed")
    func connectionClose() async throws {
        try await withGateway(shared: Self.images) { harness in
            let connection = try await RawHTTPConnection.open(port: harness.gateway.port)
            try await connection.send(Self.head("GET /healthz HTTP/1.1", ["Host: gateway", "Connection: Close"]))
            let response = try await connection.readResponse()
            #expect(response.status == 200, "\(response)")
            try await Self.expectClosed(response, connection)
        }
    }

    @Test("Expect: 100-continue is answered 100 Continue before the body is sent, then the request is served")
    func expectContinue() async throws {
        try await withGateway(shared: Self.images) { harness in
            let connection = try await RawHTTPConnection.open(port: harness.gateway.port)
            try await connection.send(
                Self.head(
                    "POST /accept-images HTTP/1.1",
                    ["Host: gateway", Self.authorization, "Content-Type: application/json",
                     "Content-Length: \(Self.body.utf8.count)", "Expect: 100-continue"]))
            // The body is not sent until the 100 comes: a long bound still proves it comes first.
            let interim = try await connection.readResponse(timeout: .seconds(10))
            #expect(interim.status == 100, "\(interim)")
            try await connection.send(Self.body)
            let response = try await connection.readResponse()
            #expect(response.status == 200, "\(response)")
            #expect(try await harness.simulatorCalls("BatchUpdateMembers") == 1)
        }
    }

    @Test("an expectation other than 100-continue is answered 417")
    func unknownExpectation() async throws {
        try await withGateway(shared: Self.images) { harness in
            let connection = try await RawHTTPConnection.open(port: harness.gateway.port)
            try await connection.send(Self.head("GET /healthz HTTP/1.1", ["Host: gateway", "Expect: 200-ok"]))
            let response = try await connection.readResponse()
            Self.expectProblem(response, status: 417, slug: "expectation-failed")
            try await Self.expectClosed(response, connection)
        }
    }

    @Test("HEAD is served wherever GET is, with GET's header fields and no body", arguments: ["/healthz", "/readyz", "/metrics"])
    func headRequest(path: String) async throws {
        try await withGateway(shared: Self.images) { harness in
            let connection = try await RawHTTPConnection.open(port: harness.gateway.port)
            try await connection.send(Self.head("HEAD \(path) HTTP/1.1", ["Host: gateway"]))
            let response = try await connection.readResponse(toHead: true)
            let get = try await harness.get(path)
            #expect(response.status == get.status, "\(response)")
            #expect(response.body.isEmpty)
            #expect(response.header("Content-Type") == get.header("Content-Type"))
            if path != "/metrics" {
                #expect(response.header("Content-Length") == "\(get.body.count)")
            }
            // Nothing of a body followed: the next answer on the connection parses.
            try await connection.send(Self.head("GET /healthz HTTP/1.1", ["Host: gateway"]))
            #expect(try await connection.readResponse().status == 200)
        }
    }

    @Test(
        "a path with an empty segment, a trailing slash or a dot segment is answered 404 and never served",
        arguments: [
            "//accept-images", "/accept-images/", "/./accept-images", "/accept-images/.", "/x/../accept-images",
            "/%2e/accept-images", "/accept-images//",
        ])
    func nonCanonicalPath(path: String) async throws {
        try await withGateway(shared: Self.images) { harness in
            let connection = try await RawHTTPConnection.open(port: harness.gateway.port)
            try await connection.send(
                Self.head(
                    "POST \(path) HTTP/1.1",
                    ["Host: gateway", Self.authorization, "Content-Type: application/json", "Content-Length: \(Self.body.utf8.count)"])
                    + Self.body)
            let response = try await connection.readResponse()
            Self.expectProblem(response, status: 404, slug: "not-found")
            #expect(try await harness.simulatorCallsTotal() == 0)
        }
    }

    @Test("a 404 or 405 quotes at most 128 characters of the path")
    func longPathNotReflected() async throws {
        try await withGateway(shared: Self.images) { harness in
            let long = String(repeating: "a", count: 60_000)
            let connection = try await RawHTTPConnection.open(port: harness.gateway.port)
            try await connection.send(Self.head("GET /\(long) HTTP/1.1", ["Host: gateway"]))
            let notFound = try await connection.readResponse()
            Self.expectProblem(notFound, status: 404, slug: "not-found")
            #expect(notFound.body.count < 1024)
            #expect((notFound.json["detail"] as? String)?.contains("/" + String(repeating: "a", count: 127) + "...") == true)

            try await connection.send(Self.head("POST /accept-images/\(long) HTTP/1.1", ["Host: gateway", "Content-Length: 0"]))
            let notAllowed = try await connection.readResponse()
            Self.expectProblem(notAllowed, status: 405, slug: "method-not-allowed")
            #expect(notAllowed.header("Allow") == "GET, HEAD")
            #expect(notAllowed.body.count < 1024)

            try await connection.send(Self.chunkedPost(transferEncoding: String(repeating: "x", count: 10_000)))
            let notImplemented = try await connection.readResponse()
            Self.expectProblem(notImplemented, status: 501, slug: "not-implemented")
            #expect(notImplemented.body.count < 1024)
        }
    }

    @Test("metrics label a 405 with the route of its path, and an unknown or non-canonical path or a refused framing as unknown")
    func metricLabels() async throws {
        try await withGateway(shared: Self.images) { harness in
            #expect(try await harness.get("/accept-images").status == 405)
            #expect(try await harness.post("/accept-images/some-id", raw: []).status == 405)
            #expect(try await harness.post("/healthz", raw: []).status == 405)
            #expect(try await harness.get("/no-such-path").status == 404)
            #expect(try await harness.get("/healthz/").status == 404)
            let connection = try await RawHTTPConnection.open(port: harness.gateway.port)
            try await connection.send(Self.head("GET /healthz HTTP/1.1", []))
            #expect(try await connection.readResponse().status == 400)

            let text = String(decoding: try await harness.get("/metrics").body, as: UTF8.self)
            let lines = Set(text.split(separator: "\n").map(String.init))
            #expect(lines.contains(#"imsgw_requests_total{route="/accept-images",status="405"} 1"#))
            #expect(lines.contains(#"imsgw_requests_total{route="/accept-images/{requestID}",status="405"} 1"#))
            #expect(lines.contains(#"imsgw_requests_total{route="/healthz",status="405"} 1"#))
            #expect(lines.contains(#"imsgw_requests_total{route="unknown",status="404"} 2"#))
            #expect(lines.contains(#"imsgw_requests_total{route="unknown",status="400"} 1"#))
            #expect(!text.contains("NotFound"))
            #expect(!text.contains("no-such-path"))
            #expect(!text.contains("healthz/"))
        }
    }

    @Test("a refused request behind one being answered is answered after it, in order, then the connection closes")
    func pipelinedRefusal() async throws {
        try await withGateway(shared: Self.images) { harness in
            let connection = try await RawHTTPConnection.open(port: harness.gateway.port)
            try await connection.send(
                Self.head(
                    "POST /accept-images HTTP/1.1",
                    ["Host: gateway", Self.authorization, "Content-Type: application/json", "Content-Length: \(Self.body.utf8.count)"])
                    + Self.body + Self.head("GET /healthz HTTP/1.1", []) + Self.head("GET /healthz HTTP/1.1", ["Host: gateway"]))
            let first = try await connection.readResponse()
            #expect(first.status == 200, "\(first)")
            let second = try await connection.readResponse()
            Self.expectProblem(second, status: 400, slug: "bad-request")
            try await Self.expectClosed(second, connection)
            // The third request, after the refused one, was never answered.
            #expect(try await connection.unparsed().isEmpty)
            #expect(try await harness.simulatorCalls("BatchUpdateMembers") == 1)
        }
    }

    @Test("a request line of another HTTP version is answered 505, and header fields over the limit 431")
    func versionAndHeaderSize() async throws {
        try await withGateway(shared: Self.images) { harness in
            let version = try await RawHTTPConnection.open(port: harness.gateway.port)
            try await version.send(Self.head("GET /healthz HTTP/2.0", ["Host: gateway"]))
            let unsupported = try await version.readResponse()
            Self.expectProblem(unsupported, status: 505, slug: "http-version-not-supported")
            try await Self.expectClosed(unsupported, version)

            let large = try await RawHTTPConnection.open(port: harness.gateway.port)
            try await large.send(Self.head("GET /healthz HTTP/1.1", ["Host: gateway", "X-Filler: " + String(repeating: "f", count: 90_000)]))
            let tooLarge = try await large.readResponse()
            Self.expectProblem(tooLarge, status: 431, slug: "request-header-fields-too-large")
            try await Self.expectClosed(tooLarge, large)
        }
    }
}
