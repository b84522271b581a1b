import Foundation
import JSONText

/// Reads upstream JSON without trusting its shape: a field of an unexpected type reads as
/// absent, numbers read as strings where a string is wanted, unknown fields are ignored.
enum LenientJSON {
    /// The top-level object of `bytes`, or nil when it is not a JSON object (read by
    /// ``JSONReader``, which gives what `JSONSerialization` gives, at a fraction of its cost).
    static func object(_ bytes: [UInt8]) -> [String: Any]? {
        guard !bytes.isEmpty else { return nil }
        return JSONReader.value(bytes) as? [String: Any]
    }

    /// A string value; numbers and booleans are written out, `null` and "" read as nil.
    /// ``string(_:)`` cut to its first `maxLength` characters: an upstream that sends a
    /// megabyte in one field must not make every answer, stored outcome and log line that
    /// carries it a megabyte too.
    static func string(_ value: Any?, maxLength: Int) -> String? {
        // UTF-8 bytes bound the characters from above: most fields are checked without
        // counting characters (grapheme breaking, the costly part).
        string(value).map { $0.utf8.count <= maxLength || $0.count <= maxLength ? $0 : String($0.prefix(maxLength)) }
    }

    static func string(_ value: Any?) -> String? {
        switch value {
        case let string as String:
            return string.isEmpty ? nil : string
        case let number as NSNumber:
            return number.stringValue
        default:
            return nil
        }
    }
}
