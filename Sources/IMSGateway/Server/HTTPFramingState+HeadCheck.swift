import Foundation
import NIOHTTP1

extension HTTPFramingState {
    /// Why the framing of `head` is refused, or nil when it is acceptable (RFC 9112):
    /// - `Host`: more than one field, or an invalid value: 400; none on HTTP/1.1: 400
    ///   (section 3.2).
    /// - `Transfer-Encoding`: `chunked` present but not last (`chunked, gzip`): 400 (section
    ///   6.3); any other coding (`gzip, chunked`, `identity`, `xchunked`): 501, since the
    ///   gateway decodes none (section 6.1); `chunked` twice, an empty list, on HTTP/1.0, or
    ///   together with `Content-Length`: 400 (sections 6.1, 6.3).
    /// - `Expect` on HTTP/1.1 with anything but `100-continue`: 417 (RFC 9110 section 10.1.1).
    static func check(_ head: HTTPRequestHead) -> HTTPFramingRejection? {
        let isHTTP10 = head.version.minor == 0
        let hosts = head.headers["Host"]
        if hosts.count > 1 {
            return HTTPFramingRejection(status: 400, detail: "the request has \(hosts.count) Host header fields; send exactly one (RFC 9112 section 3.2)")
        }
        if let host = hosts.first, !host.utf8.allSatisfy(Self.isHostByte) {
            return HTTPFramingRejection(status: 400, detail: "the Host header field is not a valid host[:port] (RFC 9112 section 3.2)")
        }
        if hosts.isEmpty, !isHTTP10 {
            return HTTPFramingRejection(status: 400, detail: "an HTTP/1.1 request needs a Host header field (RFC 9112 section 3.2)")
        }
        let transferEncodings = head.headers["Transfer-Encoding"]
        if !transferEncodings.isEmpty {
            if let rejection = checkTransferEncoding(transferEncodings, head: head, isHTTP10: isHTTP10) {
                return rejection
            }
        }
        if !isHTTP10 {
            let expectations = listElements(head.headers["Expect"])
            if let unknown = expectations.first(where: { $0 != "100-continue" }) {
                return HTTPFramingRejection(
                    status: 417,
                    detail: "the expectation \(InputExcerpt.of(unknown)) is not supported; only 100-continue is (RFC 9110 section 10.1.1)")
            }
        }
        return nil
    }

    private static func checkTransferEncoding(
        _ fields: [String], head: HTTPRequestHead, isHTTP10: Bool
    ) -> HTTPFramingRejection? {
        let codings = listElements(fields)
        if codings.contains("chunked"), codings.last != "chunked" {
            return HTTPFramingRejection(
                status: 400, detail: "chunked is not the final transfer coding: the body's end cannot be known (RFC 9112 section 6.3)")
        }
        if let unknown = codings.first(where: { $0 != "chunked" }) {
            return HTTPFramingRejection(
                status: 501,
                detail: "the transfer coding \(InputExcerpt.of(unknown)) is not supported; only chunked is (RFC 9112 section 6.1)")
        }
        if codings.isEmpty {
            return HTTPFramingRejection(status: 400, detail: "the Transfer-Encoding header field is empty (RFC 9112 section 6.1)")
        }
        if codings.count > 1 {
            return HTTPFramingRejection(status: 400, detail: "chunked is applied more than once (RFC 9112 section 6.1)")
        }
        if isHTTP10 {
            return HTTPFramingRejection(
                status: 400, detail: "an HTTP/1.0 request cannot have a Transfer-Encoding (RFC 9112 section 6.1)")
        }
        if head.headers.contains(name: "Content-Length") {
            return HTTPFramingRejection(
                status: 400, detail: "the request has both Transfer-Encoding and Content-Length (RFC 9112 section 6.3)")
        }
        return nil
    }

    /// The elements of a comma-separated list field (RFC 9110 section 5.6.1), trimmed and
    /// in lower case, empty elements dropped.
    static func listElements(_ fields: [String]) -> [String] {
        fields.flatMap { $0.split(separator: ",", omittingEmptySubsequences: false) }
            .map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            .filter { !$0.isEmpty }
    }

    /// A byte of `uri-host [":" port]` (RFC 3986 section 3.2.2): unreserved, sub-delims,
    /// `%` of a percent-encoding, `:` and the brackets of an IP literal.
    private static func isHostByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return Array("-._~!$&'()*+,;=%:[]".utf8).contains(byte)
        }
    }
}
