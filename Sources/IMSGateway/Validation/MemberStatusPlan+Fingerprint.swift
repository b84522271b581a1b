import Crypto
import IMSClient

extension MemberStatusPlan {
    /// SHA-256 (lower-case hex) of what makes two bodies the same request for
    /// `Idempotency-Key`: member status, project, vault and the normalised images in order.
    /// Bodies that differ only in spacing, letter case, padding or duplicates give the same one.
    public var fingerprint: String {
        var text = "\(memberStatus.rawValue)\n\(projectID)\n\(vaultID ?? "")\n"
        text += images.joined(separator: "\n")
        var hex: [UInt8] = []
        hex.reserveCapacity(64)
        for byte in SHA256.hash(data: Array(text.utf8)) {
            hex.append(Self.hexDigits[Int(byte >> 4)])
            hex.append(Self.hexDigits[Int(byte & 0x0F)])
        }
        return String(decoding: hex, as: UTF8.self)
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)
}
