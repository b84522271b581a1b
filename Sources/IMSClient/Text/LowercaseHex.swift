/// Bytes written as lower-case hexadecimal, two digits a byte (`[0x0f, 0xa0]` is `0fa0`): the
/// SHA-256 digests of AK/SK signing (docs/IMS-API.md, "AK/SK signing"), the gateway's request
/// fingerprints and request ids.
public enum LowercaseHex {
    /// The hexadecimal text of `bytes`, as UTF-8: twice as many bytes as `bytes` has.
    public static func utf8(_ bytes: some Sequence<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.underestimatedCount * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return out
    }

    /// The hexadecimal text of `bytes`.
    public static func string(_ bytes: some Sequence<UInt8>) -> String {
        String(decoding: utf8(bytes), as: UTF8.self)
    }

    private static let digits = Array("0123456789abcdef".utf8)
}
