import Testing

/// The tests' own event-stream parser against the examples of the WHATWG HTML standard,
/// section 9.2.6 "Interpreting an event stream" (and its line-ending and chunk-split rules).
@Suite("the tests' Server-Sent Events parser (WHATWG examples)")
struct ServerSentEventParserTests {
    typealias Event = ServerSentEventParser.Event

    @Test("three messages, the second of two data lines joined with LF")
    func threeMessages() {
        var parser = ServerSentEventParser()
        let events = parser.feed(
            "data: This is the first message.\n\ndata: This is the second message, it\ndata: has two lines.\n\ndata: This is the third message.\n\n")
        #expect(events.map(\.data) == [
            "This is the first message.", "This is the second message, it\nhas two lines.", "This is the third message.",
        ])
        #expect(events.allSatisfy { $0.type == "message" })
    }

    @Test("event types add, remove, add")
    func types() {
        var parser = ServerSentEventParser()
        let events = parser.feed("event: add\ndata: 73857293\n\nevent: remove\ndata: 2153\n\nevent: add\ndata: 113411\n\n")
        #expect(events == [
            Event(type: "add", data: "73857293", lastEventID: ""), Event(type: "remove", data: "2153", lastEventID: ""),
            Event(type: "add", data: "113411", lastEventID: ""),
        ])
    }

    @Test("a comment, ids set and reset, one space after the colon dropped (not two)")
    func idsAndSpaces() {
        var parser = ServerSentEventParser()
        let events = parser.feed(": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n")
        #expect(events == [
            Event(type: "message", data: "first event", lastEventID: "1"),
            Event(type: "message", data: "second event", lastEventID: ""),
            Event(type: "message", data: " third event", lastEventID: ""),
        ])
        #expect(parser.comments == [" test stream"])
    }

    @Test("empty data lines: an event with empty data, one with a newline; the last block, not ended by a blank line, is dropped")
    func emptyData() {
        var parser = ServerSentEventParser()
        let events = parser.feed("data\n\ndata\ndata\n\ndata:")
        #expect(events.map(\.data) == ["", "\n"])
    }

    @Test("data:test and data: test are the same event")
    func identical() {
        var parser = ServerSentEventParser()
        let events = parser.feed("data:test\n\ndata: test\n\n")
        #expect(events.map(\.data) == ["test", "test"])
    }

    @Test("CRLF, CR and LF line endings, a CRLF split across two chunks, a byte order mark, retry")
    func lineEndingsAndChunks() {
        var parser = ServerSentEventParser()
        var events = parser.feed(Array("\u{FEFF}retry: 2500\r\nid: 7\r".utf8))
        events += parser.feed("\nevent: batch\rdata: {\"index\":0}\n\r\n")
        #expect(events == [Event(type: "batch", data: #"{"index":0}"#, lastEventID: "7")])
        #expect(parser.retryMilliseconds == 2500)
        #expect(parser.lastEventID == "7")
    }
}
