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
    /// starts a new response, so headers of a 1xx response are dropped.
    func receiveHeaderLine(_ pointer: UnsafeMutablePointer<CChar>, count: Int) -> Int {
        // The line ending is cut as bytes: in a Swift String "\r\n" is one Character, which
        // neither hasSuffix("\n") nor hasSuffix("\r") matches.
        var bytes = UnsafeRawBufferPointer(start: pointer, count: count)[...]
        while let last = bytes.last, last == UInt8(ascii: "\n") || last == UInt8(ascii: "\r") {
            bytes.removeLast()
        }
        let line = String(decoding: bytes, as: UTF8.self)
        if line.hasPrefix("HTTP/") {
            responseHeaders.removeAll(keepingCapacity: true)
        } else if let colon = line.firstIndex(of: ":") {
            let name = String(line[..<colon])
            let value = line[line.index(after: colon)...].trimmingWhitespace()
            responseHeaders.append((name: name, value: value))
        }
        return count
    }
}

extension Substring {
    func trimmingWhitespace() -> String {
        var slice = self[...]
        while let first = slice.first, first == " " || first == "\t" { slice.removeFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice.removeLast() }
        return String(slice)
    }
}
