/// The preferences of a request's `Prefer` header fields (RFC 7240 section 2): a list of
/// `token [ "=" word ] *( ";" parameter )` separated by commas, where a word is a token or a
/// quoted string (RFC 9110 section 5.6.4: backslash escapes one character). Names are matched
/// in any letter case; parameters are ignored. Of a preference given more than once, across
/// all the fields in order, only the first counts (RFC 7240 section 2), even when its value is
/// unusable. Commas and semicolons inside a quoted string are part of it; a preference whose
/// quoted string does not end, or whose name is not a token, is dropped.
struct PreferHeader: Equatable {
    /// Each preference's value, by lower-case name: `""` when it has none (`respond-async`).
    private(set) var values: [String: String] = [:]

    /// Parses `fields`, the header's field values in the order received (none: no preference).
    init(_ fields: [String]) {
        for field in fields {
            for element in Self.split(Array(field.utf8), at: UInt8(ascii: ",")) {
                guard let preference = Self.preference(element), values[preference.name] == nil else { continue }
                values[preference.name] = preference.value
            }
        }
    }

    /// Parses one field value.
    init(_ field: String?) {
        self.init(field.map { [$0] } ?? [])
    }

    /// The value of preference `name` (lower case): `""` when it came without one; nil when
    /// it was not asked for.
    func value(_ name: String) -> String? { values[name] }

    /// Whether preference `name` (lower case) was asked for.
    func has(_ name: String) -> Bool { values[name] != nil }

    /// One element, `name[=value][;params]`: its lower-case name and its value (unquoted).
    private static func preference(_ element: [UInt8]) -> (name: String, value: String)? {
        guard let first = split(element, at: UInt8(ascii: ";")).first else { return nil }
        let parts = first.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
        let name = trimmed(Array(parts[0]))
        guard !name.isEmpty, name.allSatisfy(isTokenByte) else { return nil }
        var value = ""
        if parts.count == 2 {
            let raw = trimmed(Array(parts[1]))
            if raw.first == UInt8(ascii: "\"") {
                guard let unquoted = unquote(raw) else { return nil }
                value = unquoted
            } else {
                guard raw.allSatisfy(isTokenByte) else { return nil }
                value = String(decoding: raw, as: UTF8.self)
            }
        }
        return (String(decoding: name, as: UTF8.self).lowercased(), value)
    }

    /// `bytes` split at `separator` outside quoted strings.
    private static func split(_ bytes: [UInt8], at separator: UInt8) -> [[UInt8]] {
        var parts: [[UInt8]] = []
        var current: [UInt8] = []
        var quoted = false
        var escaped = false
        for byte in bytes {
            if quoted {
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    quoted = false
                }
                current.append(byte)
            } else if byte == separator {
                parts.append(current)
                current = []
            } else {
                if byte == UInt8(ascii: "\"") { quoted = true }
                current.append(byte)
            }
        }
        parts.append(current)
        return parts
    }

    /// The text of a quoted string that is all of `bytes`; nil when it does not end there.
    private static func unquote(_ bytes: [UInt8]) -> String? {
        guard bytes.count >= 2, bytes.first == UInt8(ascii: "\"") else { return nil }
        var text: [UInt8] = []
        var index = 1
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\\") {
                guard index + 1 < bytes.count else { return nil }
                text.append(bytes[index + 1])
                index += 2
            } else if byte == UInt8(ascii: "\"") {
                return index == bytes.count - 1 ? String(decoding: text, as: UTF8.self) : nil
            } else {
                text.append(byte)
                index += 1
            }
        }
        return nil
    }

    private static func trimmed(_ bytes: [UInt8]) -> [UInt8] {
        let isSpace: (UInt8) -> Bool = { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
        guard let start = bytes.firstIndex(where: { !isSpace($0) }), let end = bytes.lastIndex(where: { !isSpace($0) })
        else { return [] }
        return Array(bytes[start...end])
    }

    /// RFC 9110 `tchar`.
    private static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return Array("!#$%&'*+-.^_`|~".utf8).contains(byte)
        }
    }
}
