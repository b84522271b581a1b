import NIOHTTP1
import Testing

@testable import IMSGateway

/// ``HTTPFramingState`` without a channel: what it decides for each part, in order.
@Suite("HTTP framing state")
struct HTTPFramingStateTests {
    static func request(
        _ version: HTTPVersion = .http1_1, _ fields: [(String, String)] = [("Host", "gateway")], uri: String = "/healthz"
    ) -> HTTPRequestHead {
        HTTPRequestHead(version: version, method: .GET, uri: uri, headers: HTTPHeaders(fields))
    }

    static let ok = HTTPResponseHead(version: .http1_1, status: .ok)

    @Test("a keep-alive HTTP/1.1 exchange is passed through unchanged and the connection stays open")
    func keepAlive() {
        var state = HTTPFramingState()
        #expect(state.receivedHead(Self.request()) == .forward(Self.request()))
        #expect(state.receivedPart(isEnd: true) == .forward)
        #expect(state.writingHead(Self.ok) == .write(Self.ok))
        #expect(state.writingEnd() == .write)
        #expect(!state.isClosed)
    }

    @Test("HTTP/1.0 without keep-alive: Connection close on the request and the answer, then the connection closes")
    func http10() {
        var state = HTTPFramingState()
        guard case .forward(let forwarded) = state.receivedHead(Self.request(.http1_0, [("Expect", "100-continue")])) else {
            Issue.record("not forwarded")
            return
        }
        #expect(forwarded.headers["Connection"] == ["close"])
        #expect(forwarded.headers["Expect"].isEmpty)
        #expect(state.receivedPart(isEnd: true) == .forward)
        #expect(state.writingHead(HTTPResponseHead(version: .http1_1, status: .continue)) == .drop)
        guard case .write(let written) = state.writingHead(Self.ok) else {
            Issue.record("not written")
            return
        }
        #expect(written.headers["Connection"] == ["close"])
        #expect(state.writingEnd() == .writeThenClose)
        #expect(state.receivedHead(Self.request()) == .discard)
    }

    @Test("HTTP/1.0 with keep-alive is answered with Connection keep-alive")
    func http10KeepAlive() {
        var state = HTTPFramingState()
        _ = state.receivedHead(Self.request(.http1_0, [("Connection", "keep-alive")]))
        guard case .write(let written) = state.writingHead(Self.ok) else {
            Issue.record("not written")
            return
        }
        #expect(written.headers["Connection"] == ["keep-alive"])
        #expect(state.writingEnd() == .write)
    }

    @Test("a refused request while none is answered is rejected at once; what follows is dropped")
    func rejectAtOnce() {
        var state = HTTPFramingState()
        guard case .reject(let rejection) = state.receivedHead(Self.request(.http1_1, [])) else {
            Issue.record("not rejected")
            return
        }
        #expect(rejection.status == 400)
        #expect(state.receivedPart(isEnd: true) == .discard)
        #expect(state.receivedError(.invalidChunkSize) == .ignore)
        #expect(state.isClosed)
    }

    @Test("a refused request behind one being answered is rejected after that answer")
    func rejectAfterAnswer() {
        var state = HTTPFramingState()
        _ = state.receivedHead(Self.request())
        _ = state.receivedPart(isEnd: true)
        #expect(state.receivedHead(Self.request(.http1_1, [("Host", "a"), ("Host", "b")])) == .discard)
        #expect(state.receivedHead(Self.request()) == .discard)
        _ = state.writingHead(Self.ok)
        guard case .writeThenReject(let rejection) = state.writingEnd() else {
            Issue.record("not rejected after the answer")
            return
        }
        #expect(rejection.status == 400)
    }

    @Test("an error inside a body being read goes to the router, whose answer closes the connection")
    func errorInsideBody() {
        var state = HTTPFramingState()
        _ = state.receivedHead(Self.request())
        #expect(state.receivedPart(isEnd: false) == .forward)
        #expect(state.receivedError(.invalidChunkSize) == .forward)
        guard case .write(let written) = state.writingHead(Self.ok) else {
            Issue.record("not written")
            return
        }
        #expect(written.headers["Connection"] == ["close"])
        #expect(state.writingEnd() == .writeThenClose)
    }

    @Test("an error inside a body already answered closes the connection")
    func errorAfterAnswer() {
        var state = HTTPFramingState()
        _ = state.receivedHead(Self.request())
        _ = state.writingHead(Self.ok)
        #expect(state.writingEnd() == .write)
        #expect(state.receivedError(.invalidChunkSize) == .close)
        #expect(state.isClosed)
    }

    @Test(
        "transfer codings: only chunked, once and last, on HTTP/1.1, without Content-Length",
        arguments: [
            (["chunked"], nil), (["gzip, chunked"], 501), (["identity"], 501), (["xchunked"], 501),
            (["chunked", "gzip"], 400), (["gzip", "chunked"], 501), (["chunked, chunked"], 400), ([","], 400), (["CHUNKED"], nil),
        ] as [([String], Int?)])
    func transferCodings(fields: [String], status: Int?) {
        let head = Self.request(.http1_1, [("Host", "gateway")] + fields.map { ("Transfer-Encoding", $0) })
        #expect(HTTPFramingState.check(head)?.status == status)
    }

    @Test("chunked on HTTP/1.0, or with Content-Length, is refused with 400")
    func chunkedMisuse() {
        #expect(HTTPFramingState.check(Self.request(.http1_0, [("Transfer-Encoding", "chunked")]))?.status == 400)
        #expect(
            HTTPFramingState.check(
                Self.request(.http1_1, [("Host", "g"), ("Transfer-Encoding", "chunked"), ("Content-Length", "3")]))?.status == 400)
    }

    @Test("a 501 quotes at most 128 characters of the coding")
    func codingQuotedShort() throws {
        let coding = String(repeating: "x", count: 5000)
        let rejection = try #require(HTTPFramingState.check(Self.request(.http1_1, [("Host", "g"), ("Transfer-Encoding", coding)])))
        #expect(rejection.status == 501)
        #expect(rejection.detail.count < 300)
    }
}
