import Foundation

/// Reads upstream JSON without trusting its shape: a field of an unexpected type reads as
/// absent, numbers read as strings where a string is wanted, unknown fields are ignored.
enum LenientJSON {
    /// The top-level object of `bytes`, or nil when it is not a JSON object.
    static func object(_ bytes: [UInt8]) -> [String: Any]? {
        guard !bytes.isEmpty else { return nil }
        return (try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])) as? [String: Any]
    }

    /// A string value; numbers and booleans are written out, `null` and "" read as nil.
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
