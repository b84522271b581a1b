import Testing

@testable import IMSClient

@Suite("UpstreamError(httpStatus:body:requestID:)")
struct UpstreamErrorTests {
    private static func parse(
        _ status: Int, _ body: String, requestID: String? = "req-0001", retryAfter: String? = nil
    ) -> UpstreamError {
        UpstreamError(httpStatus: status, body: Array(body.utf8), requestID: requestID, retryAfter: retryAfter)
    }

    @Test func imsNativeShape() {
        let error = Self.parse(400, #"{"error": {"code": "IMG.0024", "message": "The imagetype is invalid."}}"#)
        #expect(
            error
                == UpstreamError(
                    httpStatus: 400, code: "IMG.0024", message: "The imagetype is invalid.", requestID: "req-0001"))
        #expect(!error.isAuthenticationFailure)
        #expect(!error.isThrottled)
        #expect(!error.isServerError)
    }

    @Test func apiGatewayShape() {
        let body = """
            {"error_code": "APIGW.0301", "error_msg": "Incorrect IAM authentication information: verify aksk signature fail",
             "request_id": "e5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0"}
            """
        let error = Self.parse(401, body, requestID: "e5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0")
        #expect(error.httpStatus == 401)
        #expect(error.code == "APIGW.0301")
        #expect(error.message == "Incorrect IAM authentication information: verify aksk signature fail")
        #expect(error.requestID == "e5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0")
        #expect(error.isAuthenticationFailure)
        #expect(!error.isThrottled)
    }

    @Test func camelCaseShape() {
        let error = Self.parse(400, #"{"errorCode": "IMG.0045", "errorMsg": "The image does not exist."}"#)
        #expect(error.code == "IMG.0045")
        #expect(error.message == "The image does not exist.")
    }

    @Test func apigSpelling() {
        let error = Self.parse(401, #"{"error_code": "APIG.0301", "error_msg": "Incorrect IAM authentication information"}"#)
        #expect(error.code == "APIG.0301")
        #expect(error.message == "Incorrect IAM authentication information")
        #expect(error.isAuthenticationFailure)
    }

    @Test(arguments: ["APIGW.0301", "APIG.0301", "APIGW.0307", "APIG.0307"])
    func authenticationCodesAreRecognisedWithoutA401(code: String) {
        let error = Self.parse(400, #"{"error_code": "\#(code)", "error_msg": "m"}"#)
        #expect(error.code == code)
        #expect(error.isAuthenticationFailure)
    }

    @Test func permissionDeniedIsNotAnAuthenticationFailure() {
        let error = Self.parse(403, #"{"error_code": "APIGW.0302", "error_msg": "The IAM user is not authorized"}"#)
        #expect(error.code == "APIGW.0302")
        #expect(!error.isAuthenticationFailure)
        #expect(!error.isThrottled)
        #expect(!error.isServerError)
    }

    @Test func tokenMustBeUpdated() {
        let error = Self.parse(401, #"{"error_code": "APIGW.0307", "error_msg": "The token must be updated."}"#)
        #expect(error.code == "APIGW.0307")
        #expect(error.message == "The token must be updated.")
        #expect(error.isAuthenticationFailure)
        #expect(!error.isThrottled)
        #expect(!error.isServerError)
    }

    @Test func throttled() {
        let body = #"{"error_code": "APIGW.0308", "error_msg": "The throttling threshold has been reached: policy user over ratelimit,limit:200,time:1 minute"}"#
        let error = Self.parse(429, body, retryAfter: "3")
        #expect(error.code == "APIGW.0308")
        #expect(error.message == "The throttling threshold has been reached: policy user over ratelimit,limit:200,time:1 minute")
        #expect(error.retryAfter == "3")
        #expect(error.isThrottled)
        #expect(!error.isAuthenticationFailure)
        #expect(!error.isServerError)
    }

    @Test func throttledByCodeAlone() {
        let error = Self.parse(400, #"{"error_code": "APIGW.0308", "error_msg": "over ratelimit"}"#)
        #expect(error.isThrottled)
    }

    @Test func serverErrors() {
        let unavailable = Self.parse(503, "")
        #expect(unavailable == UpstreamError(httpStatus: 503, code: nil, message: nil, requestID: "req-0001"))
        #expect(unavailable.isServerError)
        #expect(!unavailable.isThrottled)
        #expect(!unavailable.isAuthenticationFailure)
        #expect(Self.parse(500, #"{"error": {"code": "IMG.0500", "message": "internal"}}"#).isServerError)
        #expect(!Self.parse(499, "").isServerError)
    }

    @Test func htmlBodyIsCutTo512Characters() {
        let html = "<html><head><title>502 Bad Gateway</title></head><body>" + String(repeating: "x", count: 1000)
            + "</body></html>"
        let error = Self.parse(502, html, requestID: nil)
        #expect(error.code == nil)
        #expect(error.message == String(html.prefix(512)))
        #expect(error.message?.count == 512)
        #expect(error.requestID == nil)
        #expect(error.isServerError)
    }

    @Test func shortTextBodyIsKeptWhole() {
        let error = Self.parse(404, "Not Found")
        #expect(error.code == nil)
        #expect(error.message == "Not Found")
    }

    @Test func nonASCIITextIsCutTo512WholeCharacters() {
        let text = "a" + String(repeating: "é", count: 600)
        let error = Self.parse(502, text)
        #expect(error.message == "a" + String(repeating: "é", count: 511))
        #expect(error.message?.contains("\u{FFFD}") == false)
    }

    @Test func longJSONMessageIsCutTo512Characters() {
        let long = String(repeating: "m", count: 700)
        let error = Self.parse(400, #"{"error_code": "IMG.0001", "error_msg": "\#(long)"}"#)
        #expect(error.code == "IMG.0001")
        #expect(error.message == String(repeating: "m", count: 512))
    }

    @Test func jsonObjectWithoutCodeKeepsTheRawBody() {
        let body = #"{"unexpected": "shape"}"#
        let error = Self.parse(500, body)
        #expect(error.code == nil)
        #expect(error.message == body)
    }

    @Test func numericCodeReadsAsString() {
        let error = Self.parse(400, #"{"code": 1234, "message": "numeric"}"#)
        #expect(error.code == "1234")
        #expect(error.message == "numeric")
    }

    @Test func topLevelErrorCodeWinsOverNestedError() {
        let body = """
            {"error": {"code": "IMG.0024", "message": "nested"}, "error_code": "APIGW.0301", "error_msg": "top level"}
            """
        let error = Self.parse(401, body)
        #expect(error.code == "APIGW.0301")
        #expect(error.message == "top level")
    }

    @Test func keyPairsAreTriedInSDKOrder() {
        let body = #"{"code": "C.0001", "message": "plain", "errorCode": "E.0001", "errorMsg": "camel"}"#
        let error = Self.parse(400, body)
        #expect(error.code == "E.0001")
        #expect(error.message == "camel")
        let all = #"{"code": "C.0001", "errorCode": "E.0001", "error_code": "S.0001", "error_msg": "snake"}"#
        #expect(Self.parse(400, all).code == "S.0001")
    }

    @Test func requestIDIsKept() {
        #expect(Self.parse(400, #"{"error": {"code": "IMG.0024"}}"#, requestID: "0a1b2c3d").requestID == "0a1b2c3d")
        #expect(Self.parse(503, "<html/>", requestID: "4e5f").requestID == "4e5f")
    }

    @Test func description() {
        let error = Self.parse(401, #"{"error_code": "APIGW.0307", "error_msg": "The token must be updated."}"#, requestID: "r-1")
        #expect(error.description == "HTTP 401 APIGW.0307: The token must be updated. (X-Request-Id r-1)")
        #expect(Self.parse(503, "", requestID: nil).description == "HTTP 503")
    }

    @Test func otherServicesCodesWithTheSameNumberAreNotGatewayCodes() {
        let error = Self.parse(400, #"{"error": {"code": "IMG.0307", "message": "something else"}}"#)
        #expect(!error.isAuthenticationFailure)
        #expect(!Self.parse(400, #"{"error": {"code": "IMG.0308", "message": "x"}}"#).isThrottled)
    }

    @Test func requestIDFromTheBodyWhenTheHeaderIsMissing() {
        let error = UpstreamError(
            httpStatus: 401, body: Array(#"{"error_code": "APIGW.0301", "error_msg": "x", "request_id": "abc123"}"#.utf8),
            requestID: nil)
        #expect(error.requestID == "abc123")
    }
}
