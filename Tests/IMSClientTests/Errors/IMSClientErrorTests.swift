import CurlHTTP
import Testing

@testable import IMSClient

@Suite("IMSClientError")
struct IMSClientErrorTests {
    @Test func transportNotReached() {
        let error = IMSClientError.transport(UpstreamTransportError(
            CurlHTTPError(code: .connectFailed, mayHaveReachedServer: false, curlCode: 7, message: "connection refused"),
            service: "IMS"))
        #expect(error.errorCode == "transport.connectFailed")
        #expect(!error.mayHaveReachedServer)
    }

    @Test func transportMayHaveReached() {
        let error = IMSClientError.transport(UpstreamTransportError(
            CurlHTTPError(code: .timedOut, mayHaveReachedServer: true, curlCode: 28, message: "timed out"), service: "IMS"))
        #expect(error.errorCode == "transport.timedOut")
        #expect(error.mayHaveReachedServer)
    }

    @Test func upstreamWithCode() {
        let error = IMSClientError.upstream(UpstreamError(httpStatus: 400, code: "IMG.0024", message: "invalid"))
        #expect(error.errorCode == "IMG.0024")
        #expect(error.mayHaveReachedServer)
    }

    @Test func upstreamWithoutCode() {
        let error = IMSClientError.upstream(UpstreamError(httpStatus: 503, code: nil, message: nil))
        #expect(error.errorCode == "upstream.http_503")
        #expect(error.mayHaveReachedServer)
    }

    @Test func authenticationWithCode() {
        let error = IMSClientError.authentication(UpstreamError(httpStatus: 401, code: "APIGW.0301", message: "bad token"))
        #expect(error.errorCode == "APIGW.0301")
        #expect(error.mayHaveReachedServer)
    }

    @Test func authenticationWithoutCode() {
        let error = IMSClientError.authentication(UpstreamError(httpStatus: 401, code: nil, message: nil))
        #expect(error.errorCode == "upstream.authentication_failed")
        // IAM's own body carries a numeric code ("401"): it is no better a name.
        let iam = IMSClientError.authentication(UpstreamError(httpStatus: 401, code: "401", message: "wrong password"))
        #expect(iam.errorCode == "upstream.authentication_failed")
        #expect(error.mayHaveReachedServer)
    }

    @Test func malformedResponse() {
        let error = IMSClientError.malformedResponse(
            operation: "BatchUpdateMembers", httpStatus: 200, detail: "no job_id in the answer")
        #expect(error.errorCode == "upstream.malformed_response")
        #expect(error.mayHaveReachedServer)
        #expect(error.description == "BatchUpdateMembers: unexpected HTTP 200 answer: no job_id in the answer")
    }

    @Test func credentials() {
        let error = IMSClientError.credentials("missing password")
        #expect(error.errorCode == "credentials")
        #expect(!error.mayHaveReachedServer)
        #expect(error.description == "upstream credentials unusable: missing password")
    }
}
