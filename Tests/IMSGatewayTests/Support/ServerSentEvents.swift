import Foundation

/// A parser of `text/event-stream` of our own (no SSE client library builds on Linux here),
/// written to the WHATWG HTML standard, section 9.2.6 "Interpreting an event stream": lines
/// end with CRLF, LF or CR; a line starting with a colon is a comment; a field name is what
/// comes before the first colon (the whole line when there is none) and one space after the
/// colon is dropped; `data` lines are joined with LF; `event` sets the type; `id` sets the last
/// event id (unless it holds a NUL); `retry` with only digits sets the reconnection time; a blank
/// line dispatches the event (none when no data came), its type `message` by default. A
/// leading byte order mark is skipped; an event not ended by a blank line is dropped at the end.
struct ServerSentEventParser {
    /// One dispatched event.
    struct Event: Equatable {
        var type: String
        var data: String
        /// The last event id at dispatch (the stream's, kept across events).
        var lastEventID: String

        /// The data as a JSON object (empty when it is not one).
        var json: [String: Any] {
            ((try? JSONSerialization.jsonObject(with: Data(data.utf8))) as? [String: Any]) ?? [:]
        }

        static func == (lhs: Event, rhs: Event) -> Bool {
            lhs.type == rhs.type && lhs.data == rhs.data && lhs.lastEventID == rhs.lastEventID
        }
    }

    private(set) var lastEventID = ""
    private(set) var retryMilliseconds: Int?
    private(set) var comments: [String] = []
    private var buffer: [UInt8] = []
    private var data = ""
    private var hasData = false
    private var type = ""
    private var lastWasCR = false

    /// Feeds `bytes`; returns the events completed by them.
    mutating func feed(_ bytes: [UInt8]) -> [Event] {
        var events: [Event] = []
        for byte in bytes {
            if lastWasCR {
                lastWasCR = false
                if byte == 0x0A { continue }  // CRLF: the line already ended at CR.
            }
            if byte == 0x0D || byte == 0x0A {
                lastWasCR = byte == 0x0D
                if let event = line(buffer) { events.append(event) }
                buffer = []
            } else {
                buffer.append(byte)
            }
        }
        return events
    }

    /// Feeds `text` as UTF-8.
    mutating func feed(_ text: String) -> [Event] { feed(Array(text.utf8)) }

    private mutating func line(_ raw: [UInt8]) -> Event? {
        var bytes = raw
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]), !sawBOMCheck {
            bytes.removeFirst(3)
        }
        sawBOMCheck = true
        let line = String(decoding: bytes, as: UTF8.self)
        if line.isEmpty { return dispatch() }
        if line.hasPrefix(":") {
            comments.append(String(line.dropFirst()))
            return nil
        }
        let field: String
        var value: String
        if let colon = line.firstIndex(of: ":") {
            field = String(line[..<colon])
            value = String(line[line.index(after: colon)...])
            if value.hasPrefix(" ") { value.removeFirst() }
        } else {
            field = line
            value = ""
        }
        switch field {
        case "event":
            type = value
        case "data":
            data += value + "\n"
            hasData = true
        case "id":
            if !value.contains("\u{0}") { lastEventID = value }
        case "retry":
            if !value.isEmpty, value.allSatisfy({ $0.isASCII && $0.isNumber }) { retryMilliseconds = Int(value) }
        default:
            break
        }
        return nil
    }

    private var sawBOMCheck = false

    private mutating func dispatch() -> Event? {
        defer {
            data = ""
            hasData = false
            type = ""
        }
        guard hasData else { return nil }
        var text = data
        if text.hasSuffix("\n") { text.removeLast() }
        return Event(type: type.isEmpty ? "message" : type, data: text, lastEventID: lastEventID)
    }
}

/// An event stream read as it comes over one raw connection: the head first, then the
/// chunked body decoded and parsed by ``ServerSentEventParser``.
final class EventStreamClient: @unchecked Sendable {
    let connection: RawHTTPConnection
    /// The answer's status line and fields.
    let head: RawHTTPConnection.Response
    private(set) var parser = ServerSentEventParser()
    private var pending: [ServerSentEventParser.Event] = []
    private var chunked: [UInt8] = []
    /// The zero-length chunk came: the stream ended.
    private(set) var ended = false
    /// Every event read so far, in order.
    private(set) var events: [ServerSentEventParser.Event] = []

    private init(connection: RawHTTPConnection, head: RawHTTPConnection.Response) {
        self.connection = connection
        self.head = head
    }

    /// Sends `method path` with `headers` (and `body`) to the gateway on `port` and reads the
    /// answer's head.
    static func open(
        port: Int, method: String, path: String, headers: [(String, String)], body: [UInt8] = []
    ) async throws -> EventStreamClient {
        let connection = try await RawHTTPConnection.open(port: port)
        var text = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\n"
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        if !body.isEmpty || method == "POST" { text += "Content-Length: \(body.count)\r\n" }
        text += "\r\n"
        try await connection.send(Array(text.utf8) + body)
        let head = try await connection.readHead()
        return EventStreamClient(connection: connection, head: head)
    }

    /// The next event, waiting up to `timeout`; nil when the stream ended or the time passed.
    func next(timeout: Duration = .seconds(20)) async throws -> ServerSentEventParser.Event? {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        while pending.isEmpty {
            guard !ended else { return nil }
            let left = ContinuousClock.now.duration(to: deadline)
            guard left > .zero else { return nil }
            guard let bytes = try await connection.nextBytes(timeout: left) else {
                ended = true
                return nil
            }
            chunked += bytes
            decodeChunks()
        }
        return pending.removeFirst()
    }

    /// Every event until the stream ends (or `timeout` passes).
    func rest(timeout: Duration = .seconds(30)) async throws -> [ServerSentEventParser.Event] {
        var all: [ServerSentEventParser.Event] = []
        let deadline = ContinuousClock.now.advanced(by: timeout)
        while let event = try await next(timeout: ContinuousClock.now.duration(to: deadline)) { all.append(event) }
        return all
    }

    /// Decodes whole chunks of `chunked` (RFC 9112 section 7.1) into the parser.
    private func decodeChunks() {
        let crlf: [UInt8] = [0x0D, 0x0A]
        while let lineEnd = chunked.firstRange(of: crlf) {
            let sizeText = String(decoding: chunked[..<lineEnd.lowerBound], as: UTF8.self).split(separator: ";").first ?? ""
            guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16) else { return }
            let start = lineEnd.upperBound
            guard chunked.count >= start + size + 2 else { return }
            let data = Array(chunked[start..<(start + size)])
            chunked.removeSubrange(..<(start + size + 2))
            if size == 0 {
                ended = true
                return
            }
            let parsed = parser.feed(data)
            pending += parsed
            events += parsed
        }
    }
}
