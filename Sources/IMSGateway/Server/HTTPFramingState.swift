import NIOHTTP1

/// What ``HTTPFramingHandler`` decides for each HTTP/1 part it sees, apart from the I/O: the
/// requests it forwarded and not yet answered, whether the connection closes after them, and
/// a rejection waiting for them to be answered. One connection, on its event loop.
///
/// It enforces what the HTTP/1 decoder leaves to the server (RFC 9112): a request is
/// refused before the router sees it when ``check(_:)`` finds its framing unacceptable; a
/// connection closes after the answer to an HTTP/1.0 request without keep-alive or a request
/// with `Connection: close` (section 9.3), and after any framing error; no 1xx answer goes to
/// an HTTP/1.0 client (RFC 9110 section 15.2).
struct HTTPFramingState {
    /// A request forwarded to the router whose final answer has not been written completely.
    private struct Exchange {
        /// The connection closes once its answer is written.
        var closesConnection: Bool
        /// It was an HTTP/1.0 request (no 1xx answers; `Connection: keep-alive` when it stays open).
        var isHTTP10: Bool
    }

    /// Where the connection is.
    private enum Phase {
        /// Requests are checked and forwarded.
        case serving
        /// No request is forwarded any more: one that closes the connection was forwarded, or a
        /// request was refused while earlier ones were still being answered; the rejection is
        /// written once they are.
        case stopped(pending: HTTPFramingRejection?)
        /// A rejection was written or the connection is closing: everything read is dropped.
        case closed
    }

    private var phase = Phase.serving
    /// Forwarded requests not yet answered completely, oldest first (answers go in order).
    private var exchanges: [Exchange] = []
    /// A forwarded request is still being read (its end has not arrived).
    private var requestOpen = false

    /// Whether the connection is closing: a rejection was written, or the answer after which
    /// it closes.
    var isClosed: Bool {
        if case .closed = phase { return true }
        return false
    }

    /// What to do with a request head read from the decoder.
    enum HeadAction: Equatable {
        /// Pass on this head (possibly changed: `Connection: close` made explicit, `Expect`
        /// dropped from HTTP/1.0).
        case forward(HTTPRequestHead)
        /// Drop it (and the rest of the request).
        case discard
        /// Write this rejection, then close the connection.
        case reject(HTTPFramingRejection)
    }

    /// What to do with a body part or the end of a request.
    enum PartAction: Equatable {
        /// Pass it on.
        case forward
        /// Drop it: its request was not forwarded.
        case discard
    }

    /// What to do with an error of the decoder.
    enum ErrorAction: Equatable {
        /// Pass it on: the router is reading the body it broke, and answers it (400); the
        /// connection closes after that answer.
        case forward
        /// Write this rejection, then close the connection.
        case reject(HTTPFramingRejection)
        /// Close the connection: the request it broke was already answered.
        case close
        /// Drop it: the connection closes after the answers already under way.
        case ignore
    }

    /// What to do with an answer's head written by the router.
    enum ResponseHeadAction: Equatable {
        /// Write this head (possibly with `Connection: close` or `keep-alive` set).
        case write(HTTPResponseHead)
        /// Drop it: a 1xx answer to an HTTP/1.0 client.
        case drop
    }

    /// What to do with the end of an answer written by the router.
    enum ResponseEndAction: Equatable {
        /// Write it.
        case write
        /// Write it, then close the connection.
        case writeThenClose
        /// Write it, then this rejection, then close the connection.
        case writeThenReject(HTTPFramingRejection)
    }

    /// A request head arrived.
    mutating func receivedHead(_ head: HTTPRequestHead) -> HeadAction {
        guard case .serving = phase else { return .discard }
        if let rejection = Self.check(head) {
            return refuse(rejection)
        }
        var forwarded = head
        let isHTTP10 = head.version.minor == 0
        let closes = !head.isKeepAlive
        if closes {
            // Hummingbird stops reading requests after one with exactly `Connection: close`.
            forwarded.headers.replaceOrAdd(name: "Connection", value: "close")
        }
        if isHTTP10 {
            // RFC 9110 section 10.1.1: a 100-continue expectation of HTTP/1.0 is ignored.
            forwarded.headers.remove(name: "Expect")
        }
        exchanges.append(Exchange(closesConnection: closes, isHTTP10: isHTTP10))
        requestOpen = true
        if closes { phase = .stopped(pending: nil) }
        return .forward(forwarded)
    }

    /// A body part (`isEnd` false) or the end of a request (`isEnd` true) arrived.
    mutating func receivedPart(isEnd: Bool) -> PartAction {
        guard requestOpen else { return .discard }
        if isEnd { requestOpen = false }
        return .forward
    }

    /// The decoder failed with `error`.
    mutating func receivedError(_ error: HTTPParserError) -> ErrorAction {
        if requestOpen {
            // The body of the request being read broke: its end can never be known.
            requestOpen = false
            if case .serving = phase { phase = .stopped(pending: nil) }
            guard !exchanges.isEmpty else {
                phase = .closed
                return .close
            }
            exchanges[exchanges.count - 1].closesConnection = true
            return .forward
        }
        guard case .serving = phase else { return .ignore }
        return refuse(HTTPFramingRejection(parserError: error))
    }

    /// The router writes an answer's head.
    mutating func writingHead(_ head: HTTPResponseHead) -> ResponseHeadAction {
        guard let exchange = exchanges.first else { return .write(head) }
        if head.status.code < 200 {
            return exchange.isHTTP10 ? .drop : .write(head)
        }
        var written = head
        if exchange.closesConnection {
            written.headers.replaceOrAdd(name: "Connection", value: "close")
        } else if exchange.isHTTP10 {
            written.headers.replaceOrAdd(name: "Connection", value: "keep-alive")
        }
        return .write(written)
    }

    /// The router writes the end of an answer (1xx answers have none).
    mutating func writingEnd() -> ResponseEndAction {
        guard !exchanges.isEmpty else { return .write }
        let answered = exchanges.removeFirst()
        if answered.closesConnection {
            phase = .closed
            return .writeThenClose
        }
        if exchanges.isEmpty, case .stopped(let pending?) = phase {
            phase = .closed
            return .writeThenReject(pending)
        }
        return .write
    }

    /// A refused request: answered at once when nothing else is being answered, else after.
    private mutating func refuse(_ rejection: HTTPFramingRejection) -> HeadAction {
        guard exchanges.isEmpty else {
            phase = .stopped(pending: rejection)
            return .discard
        }
        phase = .closed
        return .reject(rejection)
    }

    private mutating func refuse(_ rejection: HTTPFramingRejection) -> ErrorAction {
        switch refuse(rejection) as HeadAction {
        case .reject(let rejection): return .reject(rejection)
        case .forward, .discard: return .ignore
        }
    }
}
