import Crypto
import Foundation

/// Client keys: the secrets callers send as `Authorization: Bearer <key>`.
///
/// The gateway never stores a key, only the SHA-256 of its UTF-8 bytes (`key_sha256` in the
/// clients file); `ims-gateway hash-key` makes a key and its hash.
public enum ClientKey {
    /// The prefix of generated keys, so that a leaked key is recognisable in a secret scanner.
    public static let prefix = "imsgw_"

    /// The shortest and longest key ``validate(_:)`` accepts, in characters.
    public static let allowedLength = 16...512

    /// A new key: `imsgw_` followed by 32 random bytes in base64url without padding (49 characters).
    ///
    /// The bytes come from `SystemRandomNumberGenerator`, which is cryptographically secure.
    public static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        let base64URL = Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
        return prefix + base64URL
    }

    /// The SHA-256 of `key`'s UTF-8 bytes as 64 lower-case hexadecimal characters: the value of
    /// `key_sha256` in the clients file.
    public static func sha256Hex(_ key: String) -> String {
        sha256(key).map { hexDigits[Int($0 >> 4)] + hexDigits[Int($0 & 0x0F)] }.joined()
    }

    /// Checks that `key`, after trimming the white space and newlines around it, is 16 to 512
    /// printable ASCII characters without spaces.
    ///
    /// - Returns: The trimmed key, the one to hash and to give to the client.
    /// - Throws: ``ClientKeyError`` naming what is wrong, never the key.
    @discardableResult
    public static func validate(_ key: String) throws(ClientKeyError) -> String {
        let trimmed = key.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw .empty }
        if trimmed.unicodeScalars.contains(where: { $0.properties.isWhitespace }) { throw .containsWhitespace }
        guard trimmed.unicodeScalars.allSatisfy({ (0x21...0x7E).contains($0.value) }) else { throw .notPrintableASCII }
        // Printable ASCII from here on: one byte per character.
        let length = trimmed.utf8.count
        guard length >= allowedLength.lowerBound else { throw .tooShort(length: length) }
        guard length <= allowedLength.upperBound else { throw .tooLong(length: length) }
        return trimmed
    }

    /// The SHA-256 of `key`'s UTF-8 bytes.
    static func sha256(_ key: String) -> SHA256Digest {
        SHA256.hash(data: Data(key.utf8))
    }

    /// The 32 bytes written as 64 hexadecimal characters (either case) in `hex`, or nil.
    static func digestBytes(hex: String) -> Data? {
        let utf8 = Array(hex.utf8)
        guard utf8.count == 2 * SHA256.byteCount else { return nil }
        var bytes = Data(capacity: SHA256.byteCount)
        var index = 0
        while index < utf8.count {
            guard let high = hexValue(utf8[index]), let low = hexValue(utf8[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }

    private static let hexDigits = (0..<16).map { String($0, radix: 16) }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

/// Why ``ClientKey/validate(_:)`` refused a key. No case carries the key or part of it.
public enum ClientKeyError: Error, Equatable, CustomStringConvertible {
    /// Nothing but white space was given.
    case empty
    /// The key holds a space, tab or newline between other characters.
    case containsWhitespace
    /// The key holds a character outside printable ASCII (`!` to `~`).
    case notPrintableASCII
    /// The key has `length` characters, fewer than 16.
    case tooShort(length: Int)
    /// The key has `length` characters, more than 512.
    case tooLong(length: Int)

    /// One line saying what is wrong with the key.
    public var description: String {
        switch self {
        case .empty: return "the key is empty"
        case .containsWhitespace: return "the key contains white space"
        case .notPrintableASCII: return "the key contains a character that is not printable ASCII"
        case .tooShort(let length):
            return "the key has \(length) characters; at least \(ClientKey.allowedLength.lowerBound) are needed"
        case .tooLong(let length):
            return "the key has \(length) characters; at most \(ClientKey.allowedLength.upperBound) are allowed"
        }
    }
}
