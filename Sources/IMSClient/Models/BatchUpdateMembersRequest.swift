import Foundation

/// Body of IMS `PUT /v1/cloudimages/members` (doc ims_03_0625; SDK
/// `BatchUpdateMembersRequestBody`): set one member status for several images of one project.
public struct BatchUpdateMembersRequest: Sendable, Equatable, Codable {
    /// Image IDs (lower-case UUIDs).
    public var images: [String]
    /// The member project: 32 lower-case hex characters.
    public var projectID: String
    /// `accepted` or `rejected`.
    public var status: MemberStatus
    /// CBR vault ID, needed when accepting a whole-machine image made from a CBR backup.
    public var vaultID: String?

    /// Creates a request body.
    public init(images: [String], projectID: String, status: MemberStatus, vaultID: String? = nil) {
        self.images = images
        self.projectID = projectID
        self.status = status
        self.vaultID = vaultID
    }

    enum CodingKeys: String, CodingKey {
        case images
        case projectID = "project_id"
        case status
        case vaultID = "vault_id"
    }

    /// The JSON bytes sent upstream (`vault_id` omitted when nil): what `JSONEncoder` writes
    /// with sorted keys and unescaped slashes. Written here directly when no string needs an
    /// escape (validated image, project and vault ids never do), which costs a fortieth of
    /// `JSONEncoder` (BENCHMARKS.md, "The request path's CPU"); else by `JSONEncoder`.
    public func jsonBytes() -> [UInt8] {
        if images.allSatisfy(Self.isPlain), Self.isPlain(projectID), Self.isPlain(status.rawValue),
            vaultID.map(Self.isPlain) ?? true
        {
            var text = #"{"images":["#
            for (index, image) in images.enumerated() {
                text += index == 0 ? "\"" : ",\""
                text += image
                text += "\""
            }
            text += #"],"project_id":""# + projectID + #"","status":""# + status.rawValue + "\""
            if let vaultID { text += #","vault_id":""# + vaultID + "\"" }
            text += "}"
            return Array(text.utf8)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? Array(encoder.encode(self))) ?? []
    }

    /// Whether `text` goes into a JSON string as it is: no `"`, `\\` or control character.
    private static func isPlain(_ text: String) -> Bool {
        !text.utf8.contains { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }
    }
}
