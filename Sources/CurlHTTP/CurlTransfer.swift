import CCurl
import Synchronization

/// One request in flight: the request, the easy handle it runs on while active, and what
/// libcurl has delivered so far. After it is handed to the engine, only the engine thread
/// touches its mutable state; `cancelRequested` is the one field other threads write.
final class CurlTransfer: @unchecked Sendable {
    let request: CurlHTTPRequest
    let cancelRequested = Atomic<Bool>(false)

    // Engine-thread state.
    var continuation: CheckedContinuation<CurlHTTPResponse, any Error>?
    var easy: UnsafeMutableRawPointer?
    var headerList: UnsafeMutablePointer<curl_slist>?
    var errorBuffer: UnsafeMutablePointer<CChar>?
    var responseHeaders: [(name: String, value: String)] = []
    var responseBody: [UInt8] = []
    var bodyTooLarge = false

    init(request: CurlHTTPRequest) {
        self.request = request
    }

    /// Hands the outcome to the waiting task. Safe to call more than once: only the first
    /// call resumes.
    func finish(_ result: Result<CurlHTTPResponse, any Error>) {
        guard let continuation else { return }
        self.continuation = nil
        continuation.resume(with: result)
    }

    /// Body bytes from libcurl's write callback. Returns the count consumed; anything else
    /// makes libcurl abort the transfer with `CURLE_WRITE_ERROR`.
    func receiveBody(_ pointer: UnsafeMutablePointer<CChar>, count: Int) -> Int {
        if responseBody.count + count > request.maxResponseBodyBytes {
            bodyTooLarge = true
            return 0
        }
        pointer.withMemoryRebound(to: UInt8.self, capacity: count) {
            responseBody.append(contentsOf: UnsafeBufferPointer(start: $0, count: count))
        }
        return count
    }

    /// One header line from libcurl's header callback (status lines included). A status line
    /// starts a new response, so headers of a 1xx response are dropped. The line is split as
    /// bytes (the first `:`, then spaces and tabs trimmed around the value, as RFC 9110's OWS
    /// is): only the name and the value become strings, each with invalid UTF-8 replaced. A line
    /// that starts with a space or a tab continues the value before it (obs-fold); a line
    /// without `:` is ignored.
    func receiveHeaderLine(_ pointer: UnsafeMutablePointer<CChar>, count: Int) -> Int {
        var bytes = UnsafeRawBufferPointer(start: pointer, count: count)[...]
        while let last = bytes.last, last == UInt8(ascii: "\n") || last == UInt8(ascii: "\r") {
            bytes.removeLast()
        }
        if bytes.starts(with: Self.statusLinePrefix) {
            responseHeaders.removeAll(keepingCapacity: true)
        } else if let first = bytes.first, first == UInt8(ascii: " ") || first == UInt8(ascii: "\t") {
            // An obsolete line fold (RFC 9112 section 5.2): replaced by one space, the line
            // continues the value before it; a fold before any field is dropped.
            guard !responseHeaders.isEmpty else { return count }
            let continuation = Self.trimmed(bytes)
            if !continuation.isEmpty {
                let text = String(decoding: continuation, as: UTF8.self)
                let last = responseHeaders.count - 1
                responseHeaders[last].value = responseHeaders[last].value.isEmpty ? text : responseHeaders[last].value + " " + text
            }
        } else if let colon = bytes.firstIndex(of: UInt8(ascii: ":")) {
            let value = Self.trimmed(bytes[(colon + 1)...])
            responseHeaders.append(
                (name: String(decoding: bytes[..<colon], as: UTF8.self), value: String(decoding: value, as: UTF8.self)))
        }
        return count
    }

    /// `bytes` without the spaces and tabs at either end (RFC 9110's OWS).
    private static func trimmed(_ bytes: Slice<UnsafeRawBufferPointer>) -> Slice<UnsafeRawBufferPointer> {
        var bytes = bytes
        while let first = bytes.first, first == UInt8(ascii: " ") || first == UInt8(ascii: "\t") { bytes.removeFirst() }
        while let last = bytes.last, last == UInt8(ascii: " ") || last == UInt8(ascii: "\t") { bytes.removeLast() }
        return bytes
    }

    private static let statusLinePrefix = Array("HTTP/".utf8)
}
