/// Writes one compact JSON object by hand: the data of a request's events (docs/ARCHITECTURE.md,
/// "State and recovery"), the per-image results column and the gateway's 200 answer.
/// Foundation's `JSONSerialization` and `JSONEncoder` cost about 8 % and 5 % of the gateway's
/// CPU per request there (BENCHMARKS.md, "The store's CPU"). Strings are escaped by
/// ``appendString(_:to:)`` (slashes and non-ASCII characters are kept as they are, as
/// `JSONEncoder` with `.withoutEscapingSlashes` keeps them), so any JSON reader reads them back.
///
/// Members are written in the order they are added; the caller adds them in the order it wants
/// stored (the events add theirs sorted by key, as `JSONSerialization` with `.sortedKeys` did).
///
/// ```swift
/// var object = JSONObjectWriter()
/// object.add("index", 0)
/// object.add("job_id", "ff8080814dbd65d7014dc2e13e6f1a3c")
/// object.text   // {"index":0,"job_id":"ff8080814dbd65d7014dc2e13e6f1a3c"}
/// ```
public struct JSONObjectWriter: Sendable {
    private var bytes: [UInt8]

    /// An empty object, with room for `capacity` bytes before its first reallocation (the
    /// objects written here are a few hundred bytes; growing an array from nothing copies it
    /// at each doubling).
    public init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
        bytes.append(UInt8(ascii: "{"))
    }

    /// Adds `"key":"value"`.
    public mutating func add(_ key: String, _ value: String) {
        member(key)
        Self.appendString(value, to: &bytes)
    }

    /// Adds `"key":"value"` when `value` is not nil (as `JSONEncoder` leaves out a nil optional).
    public mutating func addIfPresent(_ key: String, _ value: String?) {
        if let value { add(key, value) }
    }

    /// Adds `"key":value`, a JSON number.
    public mutating func add(_ key: String, _ value: Int) {
        member(key)
        bytes.append(contentsOf: String(value).utf8)
    }

    /// Adds `"key":[...]`, an array of strings.
    public mutating func add(_ key: String, _ values: [String]) {
        member(key)
        bytes.append(UInt8(ascii: "["))
        for (position, value) in values.enumerated() {
            if position > 0 { bytes.append(UInt8(ascii: ",")) }
            Self.appendString(value, to: &bytes)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    /// Adds `"key":{...}`, an object.
    public mutating func add(_ key: String, _ object: JSONObjectWriter) {
        member(key)
        bytes.append(contentsOf: object.bytes)
        bytes.append(UInt8(ascii: "}"))
    }

    /// Adds `"key":` followed by `json`, one JSON value already written (e.g. a document's
    /// ``utf8``); the caller vouches for it.
    public mutating func addJSON(_ key: String, _ json: [UInt8]) {
        member(key)
        bytes.append(contentsOf: json)
    }

    /// Adds `"key":[...]`, an array of objects.
    public mutating func add(_ key: String, _ objects: [JSONObjectWriter]) {
        member(key)
        Self.appendArray(objects, to: &bytes)
    }

    /// `objects` as one JSON array.
    public static func array(_ objects: [JSONObjectWriter]) -> String {
        var bytes: [UInt8] = []
        appendArray(objects, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func appendArray(_ objects: [JSONObjectWriter], to bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "["))
        for (position, object) in objects.enumerated() {
            if position > 0 { bytes.append(UInt8(ascii: ",")) }
            bytes.append(contentsOf: object.bytes)
            bytes.append(UInt8(ascii: "}"))
        }
        bytes.append(UInt8(ascii: "]"))
    }

    /// The object's JSON text.
    public var text: String {
        // Written straight into the string's storage: no closed copy of the bytes first.
        String(unsafeUninitializedCapacity: bytes.count + 1) { buffer in
            let count = buffer.initialize(fromContentsOf: bytes)
            buffer[count] = UInt8(ascii: "}")
            return count + 1
        }
    }

    /// The object's JSON text as UTF-8 bytes.
    public var utf8: [UInt8] {
        var closed = bytes
        closed.append(UInt8(ascii: "}"))
        return closed
    }

    /// Appends `string` as one JSON string, quotes included, to `bytes`: `"` and `\` escaped
    /// with a backslash, the control characters below U+0020 as `\b`, `\t`, `\n`, `\f`, `\r`
    /// or `\u00XX`, every other character kept as UTF-8. Runs of bytes that need no escape are
    /// copied at once (most strings have none).
    public static func appendString(_ string: String, to bytes: inout [UInt8]) {
        var string = string
        string.withUTF8 { utf8 in
            // Room for the string unescaped, grown geometrically: `reserveCapacity` allocates
            // exactly what it is asked, so asking for a few bytes more at every string copied
            // the whole buffer at each one.
            let needed = bytes.count + utf8.count + 2
            if needed > bytes.capacity { bytes.reserveCapacity(Swift.max(needed, bytes.capacity * 2)) }
            bytes.append(UInt8(ascii: "\""))
            var runStart = 0
            var position = 0
            while position < utf8.count {
                // Eight bytes at a time while none of them needs an escape.
                if position + 8 <= utf8.count,
                    !Self.needsEscape(UnsafeRawPointer(utf8.baseAddress! + position).loadUnaligned(as: UInt64.self))
                {
                    position += 8
                    continue
                }
                let byte = utf8[position]
                position += 1
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                let escaped = position - 1
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<escaped]))
                runStart = position
                switch byte {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), byte])
                case 0x08: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "b")])
                case 0x09: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
                case 0x0A: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
                case 0x0C: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "f")])
                case 0x0D: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
                default:
                    bytes.append(contentsOf: [
                        UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"),
                        hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 0xF)],
                    ])
                }
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<utf8.count]))
            bytes.append(UInt8(ascii: "\""))
        }
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// Whether any of the eight bytes of `word` is below 0x20, a quote or a backslash (the
    /// bytes ``appendString(_:to:)`` escapes): the "has a byte less than n" and "has a zero
    /// byte" word tests, exact for the question "any byte?" (bytes of 0x80 and above never
    /// match).
    @inline(__always)
    static func needsEscape(_ word: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        func hasZeroByte(_ value: UInt64) -> Bool { (value &- ones) & ~value & highs != 0 }
        let below20 = (word &- ones &* 0x20) & ~word & highs != 0
        return below20 || hasZeroByte(word ^ (ones &* 0x22)) || hasZeroByte(word ^ (ones &* 0x5C))
    }

    private mutating func member(_ key: String) {
        if bytes.count > 1 { bytes.append(UInt8(ascii: ",")) }
        Self.appendString(key, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
    }
}
