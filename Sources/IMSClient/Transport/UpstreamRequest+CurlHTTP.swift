import CurlHTTP

extension UpstreamRequest {
    /// The ``CurlHTTPRequest`` that sends this request, with its limits.
    /// - Parameters:
    ///   - timeoutMilliseconds: limit of the whole transfer, in ms.
    ///   - connectTimeoutMilliseconds: limit of the connection (TCP and TLS), in ms.
    ///   - maxResponseBodyBytes: largest answer body accepted, in bytes.
    func curlRequest(
        timeoutMilliseconds: Int, connectTimeoutMilliseconds: Int, maxResponseBodyBytes: Int
    ) -> CurlHTTPRequest {
        CurlHTTPRequest(
            method: method, url: url, headers: headers, body: body, timeoutMilliseconds: timeoutMilliseconds,
            connectTimeoutMilliseconds: connectTimeoutMilliseconds, maxResponseBodyBytes: maxResponseBodyBytes)
    }
}
