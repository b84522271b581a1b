import Testing

@testable import IMSClient

@Suite("PathSegment.escape")
struct PathSegmentTests {
    @Test func unreservedCharactersAreKept() {
        let unreserved = "ABCXYZabcxyz0189-._~"
        #expect(PathSegment.escape(unreserved) == unreserved)
        #expect(PathSegment.escape("ff8080817d1b1a2b017d2c3d4e5f0001") == "ff8080817d1b1a2b017d2c3d4e5f0001")
    }

    @Test(arguments: [
        ("/", "%2F"), (" ", "%20"), ("%", "%25"), ("?", "%3F"), ("#", "%23"),
        ("é", "%C3%A9"), ("日", "%E6%97%A5"), ("\n", "%0A"), ("+", "%2B"), (":", "%3A"),
    ])
    func reservedAndNonASCIIAreEncodedInUpperCase(input: String, expected: String) {
        #expect(PathSegment.escape(input) == expected)
    }

    @Test func mixedSegment() {
        #expect(PathSegment.escape("../job 1?x=%2F#é") == "..%2Fjob%201%3Fx%3D%252F%23%C3%A9")
        #expect(PathSegment.escape("") == "")
    }

    @Test func dotSegmentsAreEncoded() {
        #expect(PathSegment.escape(".") == "%2E")
        #expect(PathSegment.escape("..") == "%2E%2E")
        #expect(PathSegment.escape("...") == "...")
    }
}
