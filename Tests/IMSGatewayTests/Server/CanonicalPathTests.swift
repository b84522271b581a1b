import Testing

@testable import IMSGateway

/// ``CanonicalPath/isCanonical(_:)`` on request targets (RFC 3986 section 6.2.2).
struct CanonicalPathTests {
    @Test(arguments: [
        "/", "/accept-images", "/accept-images?x=1", "/accept-images/abc/events", "/a.b", "/...", "/.a", "/%2ex",
        "/%2f", "/%2", "/a?b//c/./d", "/a#x/../y", "/ümlaut",
    ])
    func canonical(target: String) {
        #expect(CanonicalPath.isCanonical(target))
    }

    @Test(arguments: [
        "", "accept-images", "?/a", "//accept-images", "/accept-images/", "/./accept-images", "/accept-images/.",
        "/x/../accept-images", "/%2e/accept-images", "/%2E%2e/a", "/.%2E/a", "/a/%2e.", "/accept-images//", "/a/..?q",
    ])
    func notCanonical(target: String) {
        #expect(!CanonicalPath.isCanonical(target))
    }
}
