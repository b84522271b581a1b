/// The part of a caller's input (a path, a header field value) that a problem's `detail`
/// may quote: at most ``maxCharacters`` characters, so that a hostile request cannot make
/// the gateway reflect kilobytes back or into its logs.
enum InputExcerpt {
    /// Most characters of one input quoted in a problem detail.
    static let maxCharacters = 128

    /// `value` when it has at most ``maxCharacters`` characters, else its first
    /// ``maxCharacters`` characters followed by `...`. Characters outside printable ASCII
    /// become `?`.
    static func of(_ value: some StringProtocol) -> String {
        let printable = value.prefix(maxCharacters).map { character -> Character in
            character.isASCII && character.unicodeScalars.allSatisfy({ (0x20..<0x7F).contains($0.value) }) ? character : "?"
        }
        return String(printable) + (value.count > maxCharacters ? "..." : "")
    }
}
