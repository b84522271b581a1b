import Crypto
import IMSClient

extension MemberStatusPlan {
    /// SHA-256 (lower-case hex) of what makes two bodies the same request for
    /// `Idempotency-Key`: member status, project, vault and the normalised images in order.
    /// Bodies that differ only in spacing, letter case, padding or duplicates give the same one.
    public var fingerprint: String {
        var text = "\(memberStatus.rawValue)\n\(projectID)\n\(vaultID ?? "")\n"
        text += images.joined(separator: "\n")
        return LowercaseHex.string(SHA256.hash(data: Array(text.utf8)))
    }
}
