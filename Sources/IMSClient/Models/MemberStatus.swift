/// The status an image member (a project an image is shared with) sets for a shared image.
///
/// Mirrors the `status` field of IMS "Batch updating image member status"
/// (`PUT /v1/cloudimages/members`, doc ims_03_0625).
public enum MemberStatus: String, Sendable, Codable, CaseIterable {
    /// The image becomes visible and usable in the member project.
    case accepted
    /// The image is hidden from the member project's image list.
    case rejected
}
