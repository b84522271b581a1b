import CCurl

/// Turns a failed transfer's `CURLcode` into a ``CurlHTTPError`` that says whether the
/// request may have reached the server.
enum CurlErrorMapping {
    static func error(for code: CURLcode, transfer: CurlTransfer, easy: UnsafeMutableRawPointer) -> CurlHTTPError {
        let detail = transfer.errorBuffer.map { String(cString: $0) } ?? ""
        let message = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
        let number = Int(code.rawValue)
        func make(_ kind: CurlHTTPError.Code, _ reached: Bool) -> CurlHTTPError {
            CurlHTTPError(code: kind, mayHaveReachedServer: reached, curlCode: number, message: message)
        }
        switch code {
        case CURLE_COULDNT_CONNECT:
            return make(.connectFailed, false)
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY:
            return make(.hostNotResolved, false)
        case CURLE_OPERATION_TIMEDOUT:
            // Before the request was about to be sent (pre-transfer time still zero) nothing
            // can have reached the server.
            var pretransfer: curl_off_t = 0
            _ = imsgw_easy_getinfo_off_t(easy, CURLINFO_PRETRANSFER_TIME_T, &pretransfer)
            return pretransfer == 0 ? make(.connectTimedOut, false) : make(.timedOut, true)
        case CURLE_WRITE_ERROR where transfer.bodyTooLarge, CURLE_FILESIZE_EXCEEDED:
            return CurlHTTPError(
                code: .responseBodyTooLarge, mayHaveReachedServer: true, curlCode: number,
                message: "response body larger than \(transfer.request.maxResponseBodyBytes) bytes")
        case CURLE_SEND_ERROR, CURLE_RECV_ERROR, CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE:
            return make(.connectionLost, true)
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE,
            CURLE_SSL_CERTPROBLEM:
            return make(.tlsFailed, false)
        case CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL, CURLE_BAD_FUNCTION_ARGUMENT:
            return make(.invalidRequest, false)
        default:
            return make(.other, true)
        }
    }
}
