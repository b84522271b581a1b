import Foundation
import JSONText

/// The member names of a JSON object's top level, in order, duplicates included.
///
/// Foundation's parser keeps the last of two equal names without saying so; a proxy or a WAF
/// in front of the gateway may keep the first. A body whose `project_id` means one thing to
/// them and another to the gateway must be refused, so the planner asks this scanner first.
enum TopLevelKeys {
    /// The decoded names of the top-level object's members, or nil when `bytes` does not start
    /// (after a byte order mark and white space) with `{` or a name cannot be decoded; the full
    /// parse reports those.
    static func names(in bytes: [UInt8]) -> [String]? {
        var index = 0
        func skipWhitespace() {
            while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
        }
        /// Moves past the string literal starting at `index` (a `"`); returns its raw bytes.
        func stringLiteral() -> ArraySlice<UInt8>? {
            let start = index
            index += 1
            while index < bytes.count {
                switch bytes[index] {
                case UInt8(ascii: "\\"): index += 2
                case UInt8(ascii: "\""):
                    index += 1
                    return bytes[start..<index]
                default: index += 1
                }
            }
            return nil
        }
        // A UTF-8 byte order mark before the text, which the parser skips too: a body that
        // starts with one must not slip a repeated name past this scan.
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { index = 3 }
        skipWhitespace()
        guard index < bytes.count, bytes[index] == UInt8(ascii: "{") else { return nil }
        index += 1
        var names: [String] = []
        var depth = 1
        var expectingName = true
        while index < bytes.count, depth > 0 {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                guard let literal = stringLiteral() else { return nil }
                if depth == 1 && expectingName {
                    guard let name = literal.withUnsafeBufferPointer({ JSONReader.value(in: $0) }) as? String else { return nil }
                    names.append(name)
                    expectingName = false
                }
                continue
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                depth -= 1
            case UInt8(ascii: ","):
                if depth == 1 { expectingName = true }
            default:
                break
            }
            index += 1
        }
        return names
    }
}
