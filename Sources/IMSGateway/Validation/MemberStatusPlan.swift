import IMSClient

/// A validated accept or reject request, split into the batches that become IMS jobs.
public struct MemberStatusPlan: Sendable, Equatable {
    /// The member project, 32 lower-case hex characters.
    public var projectID: String
    /// The member status to set.
    public var memberStatus: MemberStatus
    /// CBR vault ID (accept only), lower case.
    public var vaultID: String?
    /// The images after normalising and removing duplicates, in first-seen order.
    public var images: [String]
    /// Batches of at most `max_images_per_job` images, in order.
    public var batches: [[String]]
    /// Things the caller should know that did not stop the request (duplicates removed).
    public var warnings: [String]
}
