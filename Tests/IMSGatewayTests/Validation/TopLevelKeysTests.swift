import Testing

@testable import IMSGateway

@Suite("TopLevelKeys")
struct TopLevelKeysTests {
    static func names(_ json: String) -> [String]? {
        TopLevelKeys.names(in: Array(json.utf8))
    }

    @Test func namesInOrderWithDuplicates() {
        #expect(Self.names(#" {"a":1,"b":[1,{"a":2}],"a":"x"} "#) == ["a", "b", "a"])
    }

    @Test func nestedNamesAndStringContentsAreIgnored() {
        #expect(Self.names(#"{"a":{"a":1,"b":{"a":[]}},"s":"{\"a\":1,}","t":"]"}"#) == ["a", "s", "t"])
    }

    @Test func escapedNamesAreDecoded() {
        #expect(Self.names(#"{"imag\u0065s":[],"images":[]}"#) == ["images", "images"])
    }

    @Test("a UTF-8 byte order mark before the object is skipped, as the parser skips it")
    func byteOrderMark() {
        #expect(TopLevelKeys.names(in: [0xEF, 0xBB, 0xBF] + Array(#" {"a":1,"a":2}"#.utf8)) == ["a", "a"])
    }

    @Test func notAnObject() {
        #expect(Self.names("[1,2]") == nil)
        #expect(Self.names("") == nil)
        #expect(Self.names(#"{"unterminated"#) == nil)
    }
}
