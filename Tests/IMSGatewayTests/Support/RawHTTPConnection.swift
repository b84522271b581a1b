import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One plain TCP connection to a loopback port, for requests no HTTP client would send: the
/// bytes go out exactly as given and answers are parsed from the bytes that come back. Its
/// blocking socket calls run on a queue of its own, never on a task's thread. Use it from one
/// task at a time.
final class RawHTTPConnection: @unchecked Sendable {
    /// An answer as it came back.
    struct Response: Sendable, CustomStringConvertible {
        /// The status code of the status line.
        let status: Int
        /// The status line's version (`HTTP/1.1`).
        let version: String
        /// The header fields, in order.
        let headers: [(name: String, value: String)]
        /// The body (empty for 1xx, 204, 304 and answers to HEAD).
        let body: [UInt8]

        /// The first value of the field `name` (any letter case), or nil.
        func header(_ name: String) -> String? {
            headers.first { $0.name.lowercased() == name.lowercased() }?.value
        }

        /// The body as a JSON object (empty when it is not one).
        var json: [String: Any] {
            ((try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any]) ?? [:]
        }

        /// The body as text.
        var text: String { String(decoding: body, as: UTF8.self) }

        var description: String { "\(version) \(status) \(headers.map { "\($0.name): \($0.value)" }) \(text.prefix(500))" }
    }

    /// The connection failed, or the peer closed it before a whole answer came.
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    private let socket: Int32
    private let queue = DispatchQueue(label: "raw-http-connection")
    /// Bytes received and not yet parsed; touched only on `queue`.
    private var received: [UInt8] = []
    /// The peer closed (or reset) the connection; touched only on `queue`.
    private var peerClosed = false

    private init(socket: Int32) {
        self.socket = socket
    }

    deinit {
        closeSocket(socket)
    }

    /// Connects to `127.0.0.1:port`.
    /// - Throws: ``Failure`` when the connection cannot be made.
    static func open(port: Int) async throws -> RawHTTPConnection {
        let fd = openSocket()
        guard fd >= 0 else { throw Failure(description: "socket() failed: errno \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connectSocket(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            closeSocket(fd)
            throw Failure(description: "connect() to port \(port) failed: errno \(errno)")
        }
        return RawHTTPConnection(socket: fd)
    }

    /// Sends `text` as UTF-8 bytes, exactly as given (write `\r\n` where HTTP wants it).
    func send(_ text: String) async throws {
        try await send(Array(text.utf8))
    }

    /// Sends `bytes`.
    /// - Throws: ``Failure`` when the peer no longer accepts them.
    func send(_ bytes: [UInt8]) async throws {
        try await onQueue {
            var offset = 0
            while offset < bytes.count {
                let sent = bytes[offset...].withUnsafeBytes {
                    sendBytes(self.socket, $0.baseAddress, $0.count)
                }
                guard sent > 0 else { throw Failure(description: "send() failed: errno \(errno)") }
                offset += sent
            }
        }
    }

    /// Closes the sending side (the peer reads the end of the stream); answers can still be read.
    func shutdownWrite() {
        shutdownSending(socket)
    }

    /// Reads the next answer.
    /// - Parameters:
    ///   - timeout: how long to wait for all of it.
    ///   - toHead: it answers a HEAD request (no body whatever the framing says).
    /// - Throws: ``Failure`` when the connection closes or `timeout` passes before the answer is whole.
    func readResponse(timeout: Duration = .seconds(10), toHead: Bool = false) async throws -> Response {
        try await onQueue {
            let deadline = ContinuousClock.now.advanced(by: timeout)
            while true {
                if let response = try self.parseResponse(toHead: toHead) { return response }
                guard try self.receive(until: deadline) else {
                    throw Failure(
                        description: "no whole answer (\(self.peerClosed ? "connection closed" : "timed out")); received: \(String(decoding: self.received.prefix(500), as: UTF8.self))")
                }
            }
        }
    }

    /// Whether the peer closes the connection within `timeout` (anything it sends meanwhile
    /// is kept for ``readResponse(timeout:toHead:)``).
    func closes(within timeout: Duration) async throws -> Bool {
        try await onQueue {
            let deadline = ContinuousClock.now.advanced(by: timeout)
            while !self.peerClosed {
                guard try self.receive(until: deadline) || self.peerClosed else { return false }
            }
            return true
        }
    }

    /// Reads the head of the next answer (status line and fields) and leaves its body in
    /// the buffer, for a body read as it comes (``nextBytes(timeout:)``): an event stream.
    /// - Throws: ``Failure`` when the connection closes or `timeout` passes before the head.
    func readHead(timeout: Duration = .seconds(10)) async throws -> Response {
        try await onQueue {
            let deadline = ContinuousClock.now.advanced(by: timeout)
            let separator: [UInt8] = Array("\r\n\r\n".utf8)
            while self.received.firstRange(of: separator) == nil {
                guard try self.receive(until: deadline) else {
                    throw Failure(description: "no head (\(self.peerClosed ? "connection closed" : "timed out"))")
                }
            }
            let headEnd = self.received.firstRange(of: separator)!
            let head = try Self.head(self.received[..<headEnd.lowerBound])
            self.received.removeSubrange(..<headEnd.upperBound)
            return Response(status: head.status, version: head.version, headers: head.headers, body: [])
        }
    }

    /// The bytes received since the last call (those left after a head first), waiting up to
    /// `timeout` for some; empty on timeout; nil once the peer closed and nothing is left.
    func nextBytes(timeout: Duration) async throws -> [UInt8]? {
        try await onQueue {
            if self.received.isEmpty {
                _ = try self.receive(until: ContinuousClock.now.advanced(by: timeout))
            }
            if self.received.isEmpty { return self.peerClosed ? nil : [] }
            defer { self.received = [] }
            return self.received
        }
    }

    /// Bytes received and not parsed as an answer.
    func unparsed() async throws -> [UInt8] {
        try await onQueue { self.received }
    }

    /// Receives what is there, waiting until `deadline`.
    /// - Returns: whether bytes arrived (false on timeout or when the peer closed).
    private func receive(until deadline: ContinuousClock.Instant) throws -> Bool {
        guard !peerClosed else { return false }
        let remaining = ContinuousClock.now.duration(to: deadline)
        guard remaining > .zero else { return false }
        var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
        let milliseconds = Int32(clamping: remaining.components.seconds * 1000 + remaining.components.attoseconds / 1_000_000_000_000_000 + 1)
        guard poll(&descriptor, 1, milliseconds) > 0 else { return false }
        var chunk = [UInt8](repeating: 0, count: 65_536)
        let count = chunk.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
        if count <= 0 {
            // 0: the peer's FIN; below 0: a reset. Either way nothing more comes.
            peerClosed = true
            return false
        }
        received.append(contentsOf: chunk[..<count])
        return true
    }

    /// The first whole answer in `received` (removed from it), or nil when it is not whole yet.
    private func parseResponse(toHead: Bool) throws -> Response? {
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        guard let headEnd = received.firstRange(of: separator) else { return nil }
        let (status, version, headers) = try Self.head(received[..<headEnd.lowerBound])
        let bodyStart = headEnd.upperBound
        let length: Int
        if toHead || status < 200 || status == 204 || status == 304 {
            length = 0
        } else if let value = headers.first(where: { $0.name.lowercased() == "content-length" })?.value, let declared = Int(value) {
            length = declared
        } else {
            // No length: the body runs to the end of the connection.
            guard peerClosed else { return nil }
            length = received.count - bodyStart
        }
        guard received.count - bodyStart >= length else { return nil }
        let body = Array(received[bodyStart..<(bodyStart + length)])
        received.removeSubrange(..<(bodyStart + length))
        return Response(status: status, version: version, headers: headers, body: body)
    }

    /// The status line and fields of a head (without its blank line).
    private static func head(
        _ bytes: ArraySlice<UInt8>
    ) throws -> (status: Int, version: String, headers: [(name: String, value: String)]) {
        let lines = String(decoding: bytes, as: UTF8.self).components(separatedBy: "\r\n")
        let statusLine = lines.first?.split(separator: " ", maxSplits: 2) ?? []
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else {
            throw Failure(description: "not a status line: \(lines.first ?? "")")
        }
        let headers = lines.dropFirst().compactMap { line -> (name: String, value: String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        return (status, String(statusLine[0]), headers)
    }

    private func onQueue<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try work() }) }
        }
    }
}

// The C calls whose names the connection's own methods shadow.

private func openSocket() -> Int32 {
    #if canImport(Glibc)
    socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    #else
    socket(AF_INET, SOCK_STREAM, 0)
    #endif
}

private func closeSocket(_ fd: Int32) {
    close(fd)
}

private func connectSocket(_ fd: Int32, _ address: UnsafePointer<sockaddr>, _ length: socklen_t) -> Int32 {
    connect(fd, address, length)
}

private func sendBytes(_ fd: Int32, _ bytes: UnsafeRawPointer?, _ count: Int) -> Int {
    #if canImport(Glibc)
    send(fd, bytes, count, Int32(MSG_NOSIGNAL))
    #else
    send(fd, bytes, count, 0)
    #endif
}

private func shutdownSending(_ fd: Int32) {
    #if canImport(Glibc)
    shutdown(fd, Int32(SHUT_WR))
    #else
    shutdown(fd, SHUT_WR)
    #endif
}
