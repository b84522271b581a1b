import CCurl

/// Sets the options of one easy handle for one transfer.
enum CurlEasyOptions {
    private static let writeCallback: imsgw_data_callback = { pointer, size, count, userdata in
        guard let pointer, let userdata else { return 0 }
        let transfer = Unmanaged<CurlTransfer>.fromOpaque(userdata).takeUnretainedValue()
        return transfer.receiveBody(pointer, count: size * count)
    }

    private static let headerCallback: imsgw_data_callback = { pointer, size, count, userdata in
        guard let pointer, let userdata else { return 0 }
        let transfer = Unmanaged<CurlTransfer>.fromOpaque(userdata).takeUnretainedValue()
        return transfer.receiveHeaderLine(pointer, count: size * count)
    }

    /// Applies the request to `easy`. Returns an error when libcurl refuses an option.
    static func apply(
        _ transfer: CurlTransfer,
        to easy: UnsafeMutableRawPointer,
        configuration: CurlHTTPClient.Configuration
    ) -> CurlHTTPError? {
        let request = transfer.request
        let userdata = Unmanaged.passUnretained(transfer).toOpaque()
        var failure: CURLcode = CURLE_OK
        func check(_ code: CURLcode) { if failure == CURLE_OK && code != CURLE_OK { failure = code } }

        let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE))
        errorBuffer.initialize(to: 0)
        transfer.errorBuffer = errorBuffer
        check(imsgw_easy_setopt_pointer(easy, CURLOPT_ERRORBUFFER, errorBuffer))
        check(imsgw_easy_setopt_string(easy, CURLOPT_URL, request.url))
        check(imsgw_easy_setopt_string(easy, CURLOPT_PROTOCOLS_STR, "http,https"))
        check(imsgw_easy_setopt_long(easy, CURLOPT_NOSIGNAL, 1))
        check(imsgw_easy_setopt_long(easy, CURLOPT_FOLLOWLOCATION, 0))
        check(imsgw_easy_setopt_long(easy, CURLOPT_TCP_KEEPALIVE, 1))
        check(imsgw_easy_setopt_long(easy, CURLOPT_TIMEOUT_MS, max(1, request.timeoutMilliseconds)))
        check(imsgw_easy_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, max(1, request.connectTimeoutMilliseconds)))
        check(imsgw_easy_setopt_off_t(easy, CURLOPT_MAXFILESIZE_LARGE, curl_off_t(request.maxResponseBodyBytes)))
        if let caBundle = configuration.caBundlePath {
            check(imsgw_easy_setopt_string(easy, CURLOPT_CAINFO, caBundle))
        }
        check(imsgw_easy_setopt_data_callback(easy, CURLOPT_WRITEFUNCTION, writeCallback))
        check(imsgw_easy_setopt_pointer(easy, CURLOPT_WRITEDATA, userdata))
        check(imsgw_easy_setopt_data_callback(easy, CURLOPT_HEADERFUNCTION, headerCallback))
        check(imsgw_easy_setopt_pointer(easy, CURLOPT_HEADERDATA, userdata))

        let method = request.method.uppercased()
        switch method {
        case "GET" where request.body.isEmpty:
            check(imsgw_easy_setopt_long(easy, CURLOPT_HTTPGET, 1))
        case "HEAD":
            check(imsgw_easy_setopt_long(easy, CURLOPT_NOBODY, 1))
        default:
            if !request.body.isEmpty || ["POST", "PUT", "PATCH"].contains(method) {
                check(imsgw_easy_setopt_long(easy, CURLOPT_POST, 1))
                check(imsgw_easy_setopt_off_t(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(request.body.count)))
                check(request.body.withUnsafeBytes { bytes in
                    // COPYPOSTFIELDS copies the bytes, so the buffer need not outlive this call.
                    let empty: StaticString = ""
                    let base = bytes.baseAddress ?? UnsafeRawPointer(empty.utf8Start)
                    return imsgw_easy_setopt_pointer(easy, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: base))
                })
            }
            if method != "POST" {
                check(imsgw_easy_setopt_string(easy, CURLOPT_CUSTOMREQUEST, method))
            }
        }

        var list: UnsafeMutablePointer<curl_slist>?
        for header in request.headers {
            list = curl_slist_append(list, "\(header.name): \(header.value)")
        }
        // No "Expect: 100-continue" round trip before a body.
        list = curl_slist_append(list, "Expect:")
        transfer.headerList = list
        check(imsgw_easy_setopt_slist(easy, CURLOPT_HTTPHEADER, list))

        guard failure == CURLE_OK else {
            return CurlHTTPError(
                code: .invalidRequest, mayHaveReachedServer: false, curlCode: Int(failure.rawValue),
                message: String(cString: curl_easy_strerror(failure)))
        }
        return nil
    }
}
