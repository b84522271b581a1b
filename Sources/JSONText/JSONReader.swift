import Foundation

/// Reads JSON text (RFC 8259) into the values `JSONSerialization.jsonObject(with:options:
/// [.fragmentsAllowed])` gives on Linux: `[String: Any]`, `[Any]`, `String`, `NSNumber`
/// (numbers as ``number(_:)`` makes them, `true` and `false` as booleans) and `NSNull`.
///
/// It accepts and refuses the texts `JSONSerialization` accepts and refuses (tests compare the
/// two on a corpus, on every one-byte change of an upstream answer and on random texts), but
/// one kind: it reads UTF-8 only (RFC 8259, section 8.1), where `JSONSerialization` also
/// guesses UTF-16 and UTF-32 from NUL bytes (`3\0` reads there as `3` in UTF-16LE); here a
/// NUL byte outside an escape is refused. Like `JSONSerialization` on Linux: a UTF-8 byte
/// order mark is skipped (before the text, and at the start of a string or right after one of
/// its escapes), a comma is allowed before a closing bracket or brace, a repeated key keeps
/// its last value (and a number too large for any `NSNumber` that it replaced does not refuse
/// the text), and more than ``maxDepth`` nested arrays and objects are refused. Not
/// allowed: comments, unquoted keys, raw control characters in strings, unknown escapes, a
/// `\u` surrogate without its pair.
///
/// Why not `JSONSerialization` itself: on Linux it builds every string through
/// `String(bytes:encoding:)`, whose generic path instantiates type metadata at each call. The
/// JSON a one-image request reads (its body, the PUT's answer and the ShowJob answer) took
/// 89,000 instructions through it, 4 % of the request, and takes 30,000 through this reader
/// (BENCHMARKS.md, "JSON read without JSONSerialization"). It reads what IMS and IAM answer
/// (``LenientJSON``) and the body of an accept or reject request (the gateway's
/// `BatchPlanner`).
public enum JSONReader {
    /// Arrays and objects nested deeper than this are refused, as `JSONSerialization` refuses them.
    public static let maxDepth = 512

    /// The value `bytes` hold (see ``JSONReader`` for the types), or nil when they are not
    /// one JSON text. Never throws or traps, whatever the bytes.
    public static func value(_ bytes: [UInt8]) -> Any? {
        bytes.withUnsafeBufferPointer { value(in: $0) }
    }

    /// ``value(_:)`` of the bytes of `buffer`.
    public static func value(in buffer: UnsafeBufferPointer<UInt8>) -> Any? {
        var reader = Cursor(bytes: buffer)
        if reader.byteOrderMark(at: 0) { reader.position = 3 }
        guard let value = reader.value(depth: 0) else { return nil }
        reader.skipWhitespace()
        // A number too large for a Double refuses the text only where it stays in it: a
        // repeated key may have replaced it, as JSONSerialization converts numbers after
        // parsing the whole text.
        return reader.position == buffer.count && reader.unrepresentable == 0 ? value : nil
    }

    /// The place of a number that no `NSNumber` can hold (`1e400`), until a repeated key
    /// replaces it.
    private final class Unrepresentable: Sendable {
        static let number = Unrepresentable()
    }

    /// The unrepresentable numbers in `value` (``Unrepresentable``), at any depth.
    private static func unrepresentableNumbers(in value: Any) -> Int {
        switch value {
        case is Unrepresentable: return 1
        case let object as [String: Any]: return object.values.reduce(0) { $0 + unrepresentableNumbers(in: $1) }
        case let array as [Any]: return array.reduce(0) { $0 + unrepresentableNumbers(in: $1) }
        default: return 0
        }
    }

    /// The number JSON text `text` (RFC 8259 section 6, already checked) stands for, made as
    /// JSONSerialization on Linux makes it (swift-corelibs-foundation's
    /// `NSNumber.fromJSONNumber`), so that its value and its `stringValue` are the same: an
    /// integer as `Int64` (negative, at most 19 characters) or `UInt64` (at most 20); a text of
    /// more than 17 characters before its exponent (a lower-case `e`, as there), with an
    /// exponent from -128 to 127, as an `NSDecimalNumber` (it keeps every digit: a 23-digit job
    /// id reads back as itself); else a finite `Double`. Nil when none holds it (`1e400`).
    static func number(_ text: String) -> NSNumber? {
        let utf8 = text.utf8
        let exponentMark = utf8.firstIndex(of: UInt8(ascii: "e"))
        let integral = exponentMark == nil && !utf8.contains(UInt8(ascii: "."))
        // The text is ASCII: its characters are its bytes.
        let digitCount = utf8.distance(from: utf8.startIndex, to: exponentMark ?? utf8.endIndex)
        if integral {
            if utf8.first == UInt8(ascii: "-") {
                if digitCount <= 19, let integer = Int64(text) { return NSNumber(value: integer) }
            } else if digitCount <= 20, let integer = UInt64(text) {
                return NSNumber(value: integer)
            }
        }
        var exponent = 0
        if let exponentMark, let parsed = Int(text[utf8.index(after: exponentMark)...]) { exponent = parsed }
        if digitCount > 17, (-128...127).contains(exponent), let decimal = Decimal(string: text), decimal.isFinite {
            return NSDecimalNumber(decimal: decimal)
        }
        if let double = Double(text), double.isFinite { return NSNumber(value: double) }
        return nil
    }

    /// The reading position in the text; each `read` returns nil on the first byte that is not
    /// where the grammar allows it.
    private struct Cursor {
        let bytes: UnsafeBufferPointer<UInt8>
        var position = 0

        /// Numbers read that no `NSNumber` holds, still in the value (``Unrepresentable``).
        var unrepresentable = 0

        init(bytes: UnsafeBufferPointer<UInt8>) {
            self.bytes = bytes
        }

        /// Whether a UTF-8 byte order mark (EF BB BF) starts at `offset`.
        func byteOrderMark(at offset: Int) -> Bool {
            bytes.count - offset >= 3 && bytes[offset] == 0xEF && bytes[offset + 1] == 0xBB && bytes[offset + 2] == 0xBF
        }

        mutating func skipWhitespace() {
            while position < bytes.count {
                switch bytes[position] {
                case 0x20, 0x09, 0x0A, 0x0D: position += 1
                default: return
                }
            }
        }

        mutating func value(depth: Int) -> Any? {
            skipWhitespace()
            guard position < bytes.count else { return nil }
            switch bytes[position] {
            case UInt8(ascii: "{"): return object(depth: depth + 1)
            case UInt8(ascii: "["): return array(depth: depth + 1)
            case UInt8(ascii: "\""): return string()
            case UInt8(ascii: "t"): return literal("true", NSNumber(value: true))
            case UInt8(ascii: "f"): return literal("false", NSNumber(value: false))
            case UInt8(ascii: "n"): return literal("null", NSNull())
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return number()
            default: return nil
            }
        }

        private mutating func literal(_ word: StaticString, _ value: Any) -> Any? {
            let count = word.utf8CodeUnitCount
            guard bytes.count - position >= count else { return nil }
            for offset in 0..<count where bytes[position + offset] != word.utf8Start[offset] { return nil }
            position += count
            return value
        }

        private mutating func object(depth: Int) -> Any? {
            guard depth <= JSONReader.maxDepth else { return nil }
            position += 1
            var object: [String: Any] = [:]
            skipWhitespace()
            if position < bytes.count, bytes[position] == UInt8(ascii: "}") {
                position += 1
                return object
            }
            // Room for the members of an upstream answer's object without rehashing as it
            // grows (not for an empty one, which takes no storage).
            object.reserveCapacity(8)
            while true {
                skipWhitespace()
                // A comma before the closing brace, as JSONSerialization allows it.
                if object.count > 0, position < bytes.count, bytes[position] == UInt8(ascii: "}") {
                    position += 1
                    return object
                }
                guard position < bytes.count, bytes[position] == UInt8(ascii: "\""), let key = string() else { return nil }
                skipWhitespace()
                guard position < bytes.count, bytes[position] == UInt8(ascii: ":") else { return nil }
                position += 1
                guard let value = value(depth: depth) else { return nil }
                if let replaced = object.updateValue(value, forKey: key), unrepresentable > 0 {
                    unrepresentable -= JSONReader.unrepresentableNumbers(in: replaced)
                }
                skipWhitespace()
                guard position < bytes.count else { return nil }
                switch bytes[position] {
                case UInt8(ascii: ","): position += 1
                case UInt8(ascii: "}"):
                    position += 1
                    return object
                default: return nil
                }
            }
        }

        private mutating func array(depth: Int) -> Any? {
            guard depth <= JSONReader.maxDepth else { return nil }
            position += 1
            var array: [Any] = []
            skipWhitespace()
            if position < bytes.count, bytes[position] == UInt8(ascii: "]") {
                position += 1
                return array
            }
            while true {
                skipWhitespace()
                // A comma before the closing bracket, as JSONSerialization allows it.
                if !array.isEmpty, position < bytes.count, bytes[position] == UInt8(ascii: "]") {
                    position += 1
                    return array
                }
                guard let element = value(depth: depth) else { return nil }
                array.append(element)
                skipWhitespace()
                guard position < bytes.count else { return nil }
                switch bytes[position] {
                case UInt8(ascii: ","): position += 1
                case UInt8(ascii: "]"):
                    position += 1
                    return array
                default: return nil
                }
            }
        }

        /// A string from its opening quote: the bytes up to the closing quote taken at once
        /// when none is escaped, else built escape by escape. Invalid UTF-8 is refused. A byte
        /// order mark that starts the string, or follows an escape, is dropped, as
        /// JSONSerialization on Linux drops it (it makes each run between escapes through
        /// `String(bytes:encoding:)`, which drops a leading one).
        private mutating func string() -> String? {
            position += 1
            if byteOrderMark(at: position) { position += 3 }
            let start = position
            var ascii = true
            while position < bytes.count {
                let byte = bytes[position]
                if byte == UInt8(ascii: "\"") {
                    let utf8 = UnsafeBufferPointer(rebasing: bytes[start..<position])
                    position += 1
                    // ASCII is valid UTF-8 as it is: only other text needs the (generic, and
                    // so much slower) validating initializer.
                    return ascii ? String(decoding: utf8, as: UTF8.self) : String(validating: utf8, as: UTF8.self)
                }
                if byte == UInt8(ascii: "\\") { return escapedString(from: start) }
                if byte < 0x20 { return nil }
                if byte >= 0x80 { ascii = false }
                position += 1
            }
            return nil
        }

        private mutating func escapedString(from start: Int) -> String? {
            var utf8: [UInt8] = Array(bytes[start..<position])
            while position < bytes.count {
                let byte = bytes[position]
                position += 1
                switch byte {
                case UInt8(ascii: "\""):
                    return String(validating: utf8, as: UTF8.self)
                case UInt8(ascii: "\\"):
                    do { try JSONEscape.decode(bytes, at: &position, into: &utf8) } catch { return nil }
                    if byteOrderMark(at: position) { position += 3 }
                case 0..<0x20:
                    return nil
                default:
                    utf8.append(byte)
                }
            }
            return nil
        }

        /// A number (RFC 8259 section 6) as ``JSONReader/number(_:)`` makes it; one it cannot
        /// hold is counted in ``unrepresentable`` and read as ``Unrepresentable/number``.
        private mutating func number() -> Any? {
            let start = position
            if bytes[position] == UInt8(ascii: "-") { position += 1 }
            guard position < bytes.count else { return nil }
            if bytes[position] == UInt8(ascii: "0") {
                position += 1
            } else {
                guard skipDigits() else { return nil }
            }
            if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
                position += 1
                guard skipDigits() else { return nil }
            }
            if position < bytes.count, bytes[position] | 0x20 == UInt8(ascii: "e") {
                position += 1
                if position < bytes.count, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") {
                    position += 1
                }
                guard skipDigits() else { return nil }
            }
            let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
            if let number = JSONReader.number(text) { return number }
            unrepresentable += 1
            return Unrepresentable.number
        }

        /// Skips one or more digits; false when there is none.
        private mutating func skipDigits() -> Bool {
            let start = position
            while position < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[position]) { position += 1 }
            return position > start
        }
    }
}
