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

    /// The JSON bytes sent upstream (`vault_id` omitted when nil).
    public func jsonBytes() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? Array(encoder.encode(self))) ?? []
    }
}
