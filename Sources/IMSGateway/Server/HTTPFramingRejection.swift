import Foundation
import NIOCore
import NIOHTTP1

/// A request refused for its HTTP/1.1 framing (RFC 9112) before or while it was read: the
/// status, the problem's slug and title, and what is wrong. The connection is always closed
/// after it is answered, since the end of such a request cannot be trusted.
struct HTTPFramingRejection: Sendable, Equatable, Error {
    /// The status code: 400, 417, 431, 501 or 505.
    let status: Int
    /// What is wrong, for the problem's `detail` (quotes at most ``InputExcerpt/maxCharacters``
    /// characters of any field value).
    let detail: String

    /// A rejection with `status` and `detail`.
    init(status: Int, detail: String) {
        self.status = status
        self.detail = detail
    }

    /// The rejection of a request NIO's HTTP/1 decoder (llhttp) could not parse.
    init(parserError: HTTPParserError) {
        switch parserError {
        case .headerOverflow:
            self.init(status: 431, detail: "the request's header fields are larger than the gateway accepts")
        case .invalidVersion:
            self.init(status: 505, detail: "only HTTP/1.0 and HTTP/1.1 are served")
        case .invalidChunkSize:
            self.init(status: 400, detail: "a chunk size of the chunked body is not a hexadecimal number (RFC 9112 section 7.1)")
        case .invalidEOFState:
            self.init(status: 400, detail: "the connection ended inside the request: the body is shorter than its framing announced")
        case .invalidContentLength, .unexpectedContentLength:
            self.init(
                status: 400,
                detail: "Content-Length is invalid, repeated, or sent with Transfer-Encoding (RFC 9112 section 6.3)")
        case .lfExpected, .strictModeAssertion, .invalidConstant:
            self.init(
                status: 400,
                detail: "the request is not well-formed HTTP/1.1: a line or chunk does not end with CRLF where its framing says (RFC 9112 sections 2.2 and 7.1)")
        case .unknown:
            // llhttp's other refusals, among them a Transfer-Encoding whose final coding is not
            // chunked, which it refuses before the head is complete.
            self.init(
                status: 400,
                detail: "the HTTP/1.1 parser refused the request (RFC 9112), e.g. a Transfer-Encoding whose final coding is not chunked once (section 6.3)")
        default:
            self.init(status: 400, detail: "the request is not well-formed HTTP/1.1 (RFC 9112): \(parserError)")
        }
    }

    /// The status's reason phrase, the problem's title (`Bad Request`, `Not Implemented`, ...).
    var title: String { HTTPResponseStatus(statusCode: status).reasonPhrase }

    /// The problem's slug: the title in lower case, words joined by `-` (`not-implemented`).
    var slug: String {
        title.lowercased().split(whereSeparator: { !$0.isLetter && !$0.isNumber }).joined(separator: "-")
    }

    /// The whole answer as a channel handler writes it below the router: RFC 9457 problem
    /// details with `X-Request-Id` and `Connection: close`.
    /// - Parameter requestID: the id the answer and its log line carry.
    func response(requestID: String) -> (head: HTTPResponseHead, body: ByteBuffer) {
        let problem = ProblemDetails(slug: slug, title: title, status: status, detail: detail, requestID: requestID)
        let body = ByteBuffer(bytes: ResponseFactory.encoded(problem))
        let headers = HTTPHeaders([
            ("Content-Type", "application/problem+json"), ("Content-Length", "\(body.readableBytes)"),
            ("Connection", "close"), ("X-Request-Id", requestID),
        ])
        return (HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: status), headers: headers), body)
    }
}
