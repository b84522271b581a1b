/// The JSON text of a `[String]` (the `warnings` and `images` columns), written and read by
/// hand: Foundation's `JSONEncoder` and `JSONDecoder` cost more than the rest of a row's write
/// (BENCHMARKS.md, "Durable requests").
///
/// ``encode(_:)`` writes a compact array whose strings escape `"`, `\` and the control
/// characters below U+0020 (as `\b`, `\t`, `\n`, `\f`, `\r` or `\u00XX`) and keep every other
/// character as UTF-8, which any JSON reader (`JSONDecoder` of an older gateway too) reads
/// back. ``decode(_:)`` reads any JSON array of strings: what ``encode(_:)`` writes and what
/// `JSONEncoder` wrote before (`\/`, `\uXXXX` with surrogate pairs, white space between tokens).
public enum JSONStringArray {
    /// `strings` as one JSON array.
    public static func encode(_ strings: [String]) -> String {
        var capacity = 2 + strings.count * 3
        for string in strings { capacity += string.utf8.count }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(capacity)
        bytes.append(UInt8(ascii: "["))
        for (position, string) in strings.enumerated() {
            if position > 0 { bytes.append(UInt8(ascii: ",")) }
            JSONObjectWriter.appendString(string, to: &bytes)
        }
        bytes.append(UInt8(ascii: "]"))
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The strings of the JSON array `text`.
    /// - Throws: `DecodingError.dataCorrupted` when `text` is not a JSON array of strings.
    public static func decode(_ text: String) throws -> [String] {
        var text = text
        return try text.withUTF8 { bytes throws(DecodingError) in
            var reader = Reader(bytes: bytes)
            return try reader.array()
        }
    }

    /// A cursor over the UTF-8 bytes of one JSON array of strings.
    private struct Reader {
        let bytes: UnsafeBufferPointer<UInt8>
        var position = 0

        init(bytes: UnsafeBufferPointer<UInt8>) {
            self.bytes = bytes
        }

        mutating func array() throws(DecodingError) -> [String] {
            skipSpace()
            try expect(UInt8(ascii: "["))
            var strings: [String] = []
            skipSpace()
            if peek() == UInt8(ascii: "]") {
                position += 1
            } else {
                while true {
                    skipSpace()
                    strings.append(try string())
                    skipSpace()
                    guard let next = peek() else { throw Self.corrupt("an unfinished array") }
                    position += 1
                    if next == UInt8(ascii: "]") { break }
                    guard next == UInt8(ascii: ",") else { throw Self.corrupt("a character between strings") }
                }
            }
            skipSpace()
            guard position == bytes.count else { throw Self.corrupt("text after the array") }
            return strings
        }

        /// One string, from its opening quote.
        private mutating func string() throws(DecodingError) -> String {
            try expect(UInt8(ascii: "\""))
            let start = position
            // The common case: no escape, the bytes are the string.
            while position < bytes.count {
                let byte = bytes[position]
                if byte == UInt8(ascii: "\"") {
                    let value = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
                    position += 1
                    return value
                }
                if byte == UInt8(ascii: "\\") { break }
                guard byte >= 0x20 else { throw Self.corrupt("a control character in a string") }
                position += 1
            }
            var value = Array(bytes[start..<position])
            while position < bytes.count {
                let byte = bytes[position]
                position += 1
                switch byte {
                case UInt8(ascii: "\""):
                    return String(decoding: value, as: UTF8.self)
                case UInt8(ascii: "\\"):
                    do { try JSONEscape.decode(bytes, at: &position, into: &value) } catch { throw Self.corrupt(error.rawValue) }
                case 0..<0x20:
                    throw Self.corrupt("a control character in a string")
                default:
                    value.append(byte)
                }
            }
            throw Self.corrupt("an unfinished string")
        }

        private func peek() -> UInt8? {
            position < bytes.count ? bytes[position] : nil
        }

        private mutating func expect(_ byte: UInt8) throws(DecodingError) {
            guard peek() == byte else { throw Self.corrupt("a missing \"\(Character(Unicode.Scalar(byte)))\"") }
            position += 1
        }

        /// JSON white space: space, tab, line feed, carriage return.
        private mutating func skipSpace() {
            while let byte = peek(), byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D {
                position += 1
            }
        }

        private static func corrupt(_ what: String) -> DecodingError {
            DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "not a JSON array of strings: \(what)"))
        }
    }
}
