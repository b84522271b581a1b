import Foundation
import IMSClient
import Testing

/// `trimmingWhitespace(andNewlines:)` gives what Foundation's `trimmingCharacters(in:)` gives,
/// on the fast path (printable ASCII at both ends) and off it.
struct WhitespaceTrimmingTests {
    static let samples = [
        "", " ", "a", "abc", " abc", "abc ", "\tabc\t", "a b", "\u{A0}abc\u{3000}", "abc\n", "\r\nabc", "\u{85}x\u{85}",
        "é", "xé", "a\u{301}", "\u{200B}abc", "Bearer  key ", "\u{7F}abc",
    ]

    @Test(arguments: samples)
    func matchesFoundationForWhitespaces(text: String) {
        #expect(text.trimmingWhitespace() == text.trimmingCharacters(in: .whitespaces))
        #expect(text.dropFirst(0).trimmingWhitespace() == text.trimmingCharacters(in: .whitespaces))
    }

    @Test(arguments: samples)
    func matchesFoundationForWhitespacesAndNewlines(text: String) {
        #expect(text.trimmingWhitespace(andNewlines: true) == text.trimmingCharacters(in: .whitespacesAndNewlines))
    }
}
