import Foundation

package extension StringProtocol {
    /// The text without the whitespace at either end: Foundation's
    /// `trimmingCharacters(in: .whitespaces)`, or `.whitespacesAndNewlines` when `newlines` is
    /// true, with the same result, but without calling it when the first and the last
    /// character are printable ASCII (nothing to trim), as in almost every header value, job
    /// status word and image id. Foundation's call costs about 20,000 instructions on a short
    /// string: it bridges to `NSString` (BENCHMARKS.md, "The request path's CPU").
    func trimmingWhitespace(andNewlines newlines: Bool = false) -> String {
        let scalars = unicodeScalars
        guard let first = scalars.first, let last = scalars.last else { return "" }
        if Self.isPrintableASCII(first), Self.isPrintableASCII(last) { return String(self) }
        return trimmingCharacters(in: newlines ? .whitespacesAndNewlines : .whitespaces)
    }

    /// `!` to `~`: no whitespace or newline, in any character set.
    private static func isPrintableASCII(_ scalar: Unicode.Scalar) -> Bool {
        (0x21...0x7E).contains(scalar.value)
    }
}
