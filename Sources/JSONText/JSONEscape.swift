/// The escapes of a JSON string (RFC 8259, section 7), decoded for ``JSONReader`` and
/// ``JSONStringArray``: `\"`, `\\`, `\/`, `\b`, `\f`, `\n`, `\r`, `\t` and `\uXXXX`, a high
/// surrogate only with the `\uXXXX` of its low one after it.
enum JSONEscape {
    /// Why an escape is refused; the raw value is the phrase an error message uses.
    enum Failure: String, Error {
        case unfinished = "an unfinished escape"
        case unknown = "an unknown escape"
        case unfinishedUnicode = "an unfinished \\u escape"
        case invalidUnicode = "an invalid \\u escape"
        case loneSurrogate = "a lone surrogate"
    }

    /// Decodes the escape whose letter is at `position` in `bytes` (its backslash just read),
    /// appends what it stands for to `utf8` as UTF-8 and moves `position` past it.
    /// - Throws: ``Failure`` when the escape is unfinished, unknown or a lone surrogate.
    static func decode(
        _ bytes: UnsafeBufferPointer<UInt8>, at position: inout Int, into utf8: inout [UInt8]
    ) throws(Failure) {
        guard position < bytes.count else { throw .unfinished }
        let letter = bytes[position]
        position += 1
        switch letter {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): utf8.append(letter)
        case UInt8(ascii: "b"): utf8.append(0x08)
        case UInt8(ascii: "f"): utf8.append(0x0C)
        case UInt8(ascii: "n"): utf8.append(0x0A)
        case UInt8(ascii: "r"): utf8.append(0x0D)
        case UInt8(ascii: "t"): utf8.append(0x09)
        case UInt8(ascii: "u"):
            var scalar = try hex4(bytes, at: &position)
            if (0xD800..<0xDC00).contains(scalar) {
                // A high surrogate: its low half must follow as another \u escape.
                guard bytes.count - position >= 2, bytes[position] == UInt8(ascii: "\\"),
                    bytes[position + 1] == UInt8(ascii: "u")
                else { throw .loneSurrogate }
                position += 2
                let low = try hex4(bytes, at: &position)
                guard (0xDC00..<0xE000).contains(low) else { throw .loneSurrogate }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            } else if (0xDC00..<0xE000).contains(scalar) {
                throw .loneSurrogate
            }
            guard let unicode = Unicode.Scalar(scalar), let encoded = UTF8.encode(unicode) else { throw .invalidUnicode }
            utf8.append(contentsOf: encoded)
        default:
            throw .unknown
        }
    }

    /// The four hexadecimal digits of a `\u` escape at `position`, which moves past them.
    private static func hex4(_ bytes: UnsafeBufferPointer<UInt8>, at position: inout Int) throws(Failure) -> UInt32 {
        guard bytes.count - position >= 4 else { throw .unfinishedUnicode }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[position]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw .invalidUnicode
            }
            value = value << 4 | UInt32(digit)
            position += 1
        }
        return value
    }
}
