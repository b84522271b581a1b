import CurlHTTP
import Testing

@testable import IMSClient

/// IMSClient's own transport error, made from what libcurl reported.
@Suite("UpstreamTransportError")
struct UpstreamTransportErrorTests {
    @Test(
        "every libcurl code has a coarse kind; the fine code and mayHaveReachedServer are kept",
        arguments: [
            (CurlHTTPError.Code.connectFailed, UpstreamTransportError.Kind.couldNotConnect, false),
            (.hostNotResolved, .couldNotResolve, false),
            (.connectTimedOut, .timedOut, false),
            (.timedOut, .timedOut, true),
            (.connectionLost, .connectionReset, true),
            (.tlsFailed, .tls, false),
            (.responseBodyTooLarge, .other, true),
            (.cancelled, .cancelled, true),
            (.shutdown, .other, true),
            (.invalidRequest, .other, false),
            (.other, .other, true),
        ])
    func mapping(code: CurlHTTPError.Code, kind: UpstreamTransportError.Kind, reached: Bool) {
        let error = UpstreamTransportError(
            CurlHTTPError(code: code, mayHaveReachedServer: reached, curlCode: 7, message: "boom"), service: "IMS")
        #expect(error.kind == kind)
        #expect(error.code == code.rawValue)
        #expect(error.mayHaveReachedServer == reached)
        #expect(error.message == "IMS unreachable: boom")
        #expect(IMSClientError.transport(error).errorCode == "transport.\(code.rawValue)")
        #expect(IMSClientError.transport(error).description == "IMS unreachable: boom")
    }

    @Test("an IAM failure never reached IMS, whatever the transfer says")
    func iamNeverReachedIMS() {
        let error = UpstreamTransportError(
            CurlHTTPError(code: .timedOut, mayHaveReachedServer: true, curlCode: 28, message: "timed out"),
            service: "IAM", mayHaveReachedServer: false)
        #expect(!error.mayHaveReachedServer)
        #expect(error.message == "IAM unreachable: timed out")
    }

    @Test("user info in a URL is kept out of the message")
    func redactsUserInfo() {
        let error = UpstreamTransportError(
            kind: .couldNotConnect, mayHaveReachedServer: false,
            message: "Failed to connect to https://user:s3cret@ims.example.com:443/v1 and http://other@proxy/ (x@y)")
        #expect(!error.message.contains("s3cret"))
        #expect(!error.message.contains("other@"))
        #expect(error.message == "Failed to connect to https://<redacted>@ims.example.com:443/v1 and http://<redacted>@proxy/ (x@y)")
        #expect(error.code == "couldNotConnect")
        #expect(UpstreamTransportError(kind: .tls, mayHaveReachedServer: false, message: "no URL here").message == "no URL here")
    }
}
