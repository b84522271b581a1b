import RawStructuredFieldValues

/// The `Idempotency-Key` request header (draft-ietf-httpapi-idempotency-key-header): a
/// structured-field string such as `"8e03978e-40d5-43e8-bc93-6894a57f9324"`.
///
/// Be liberal: many clients send the value without quotes, so a bare token
/// (`8e03978e-40d5-...`) is taken as the same key.
public enum IdempotencyKey {
    /// Longest key accepted, in characters.
    public static let maxLength = 255

    /// Why a header is not a usable key.
    public struct Invalid: Error, Sendable, CustomStringConvertible {
        /// What is wrong, to show the caller.
        public let description: String
    }

    /// The key in `header`, or nil when there is no header.
    /// - Throws: ``Invalid`` when the header is empty, longer than ``maxLength`` or neither a
    ///   structured-field string nor a token.
    public static func parse(_ header: String?) throws(Invalid) -> String? {
        guard let header else { return nil }
        let trimmed = header.trimmingSpaces
        guard !trimmed.isEmpty else { throw Invalid(description: "is empty") }
        // A quoted key may escape each of its characters: twice the length, plus the quotes.
        guard trimmed.utf8.count <= 2 * maxLength + 2 else {
            throw Invalid(description: "is longer than \(maxLength) characters")
        }
        var key: String?
        var parser = StructuredFieldValueParser(Array(trimmed.utf8))
        // Parameters (`"key";a=1`) are not part of the key, as for any structured field.
        if let item = try? parser.parseItemFieldValue() {
            switch item.rfc9651BareItem {
            case .string(let value): key = value
            case .token(let value): key = value
            default: key = nil
            }
        }
        if key == nil, trimmed.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\"") }) {
            // Neither a string nor a token (e.g. it starts with a digit): take it as sent.
            key = trimmed
        }
        guard let key else {
            throw Invalid(description: "must be a quoted string of printable ASCII characters")
        }
        guard !key.isEmpty else { throw Invalid(description: "is empty") }
        guard key.utf8.count <= maxLength else { throw Invalid(description: "is longer than \(maxLength) characters") }
        return key
    }
}

extension String {
    fileprivate var trimmingSpaces: String {
        var view = Substring(self)
        while let first = view.first, first == " " || first == "\t" { view = view.dropFirst() }
        while let last = view.last, last == " " || last == "\t" { view = view.dropLast() }
        return String(view)
    }
}
