/// The `Idempotency-Key` request header (draft-ietf-httpapi-idempotency-key-header): a
/// structured-field string (RFC 9651 section 3.3.3) such as
/// `"8e03978e-40d5-43e8-bc93-6894a57f9324"`.
///
/// Be liberal where it is unambiguous: many clients send the value without quotes, so a bare
/// value (`8e03978e-40d5-...`) is taken as the same key. Parameters (`"k";x=1`, `k;x=1`) are
/// refused, not dropped: a key that means something else to the client than to the gateway
/// must not match another request's. What is accepted is exactly openapi.yaml's pattern of
/// the `IdempotencyKey` parameter (a test checks both against the same values):
/// - quoted: `"`, 1 to 255 characters of printable ASCII where `"` and `\` are escaped as
///   `\"` and `\\`, `"`, and nothing after it;
/// - bare: 1 to 255 characters of printable ASCII other than space, `"`, `;` and `,` (a `,`
///   would be two keys once fields are combined, RFC 9110 section 5.3).
public enum IdempotencyKey {
    /// Longest key accepted, in characters (after unescaping a quoted key).
    public static let maxLength = 255

    /// Why a header is not a usable key.
    public struct Invalid: Error, Sendable, CustomStringConvertible {
        /// What is wrong, to show the caller (quotes nothing of the header).
        public let description: String
    }

    /// The key in `header`, or nil when there is no header. Spaces and tabs around the value
    /// are ignored.
    /// - Throws: ``Invalid`` when the header is empty, longer than ``maxLength``, has
    ///   parameters, or is neither a quoted string nor a bare value as described above.
    public static func parse(_ header: String?) throws(Invalid) -> String? {
        guard let header else { return nil }
        let bytes = Array(header.utf8).trimmingSpaces
        guard let first = bytes.first else { throw Invalid(description: "is empty") }
        let key = first == UInt8(ascii: "\"") ? try quoted(bytes) : try bare(bytes)
        guard !key.isEmpty else { throw Invalid(description: "is empty") }
        guard key.count <= maxLength else { throw Invalid(description: "is longer than \(maxLength) characters") }
        return String(decoding: key, as: UTF8.self)
    }

    /// The characters of a quoted key, unescaped.
    private static func quoted(_ bytes: ArraySlice<UInt8>) throws(Invalid) -> [UInt8] {
        var key: [UInt8] = []
        var index = bytes.index(after: bytes.startIndex)
        while index < bytes.endIndex {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                let rest = bytes[bytes.index(after: index)...]
                if rest.first == UInt8(ascii: ";") {
                    throw Invalid(description: "must not have parameters (;...)")
                }
                guard rest.isEmpty else { throw Invalid(description: "must end with its closing quote") }
                return key
            case UInt8(ascii: "\\"):
                index = bytes.index(after: index)
                guard index < bytes.endIndex, bytes[index] == UInt8(ascii: "\"") || bytes[index] == UInt8(ascii: "\\") else {
                    throw Invalid(description: #"may escape only " and \ in a quoted string"#)
                }
                key.append(bytes[index])
            case 0x20..<0x7F:
                key.append(byte)
            default:
                throw Invalid(description: "must be a quoted string of printable ASCII characters")
            }
            index = bytes.index(after: index)
        }
        throw Invalid(description: "must end with its closing quote")
    }

    /// The characters of a bare key, as sent.
    private static func bare(_ bytes: ArraySlice<UInt8>) throws(Invalid) -> [UInt8] {
        if bytes.contains(UInt8(ascii: ";")) {
            throw Invalid(description: "must not have parameters (;...)")
        }
        if bytes.contains(UInt8(ascii: ",")) {
            throw Invalid(description: "must be one key, not a list")
        }
        guard bytes.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\"") }) else {
            throw Invalid(description: "must be a quoted string of printable ASCII characters")
        }
        return Array(bytes)
    }
}

extension Array where Element == UInt8 {
    /// Without the spaces and tabs at both ends (optional white space, RFC 9110 section 5.6.3).
    fileprivate var trimmingSpaces: ArraySlice<UInt8> {
        var view = self[...]
        while let first = view.first, first == 0x20 || first == 0x09 { view = view.dropFirst() }
        while let last = view.last, last == 0x20 || last == 0x09 { view = view.dropLast() }
        return view
    }
}
