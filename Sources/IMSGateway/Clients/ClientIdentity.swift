/// A caller the gateway knows: who it is, which projects it may act on and how fast it may call.
///
/// This is what authentication yields; it holds no key and no key hash.
public struct ClientIdentity: Sendable, Equatable {
    /// The client's unique name from the clients file (1-64 characters of `[A-Za-z0-9._-]`).
    public var name: String
    /// The projects the client may act on.
    public var projects: ProjectScope
    /// The client's inbound token bucket.
    public var rateLimit: ClientRateLimit

    /// A client named `name`, allowed `projects`, limited by `rateLimit`.
    public init(name: String, projects: ProjectScope, rateLimit: ClientRateLimit) {
        self.name = name
        self.projects = projects
        self.rateLimit = rateLimit
    }

    /// Whether the client may act on `projectID` (a `project_id` already normalised to lower case).
    public func allows(projectID: String) -> Bool {
        projects.contains(projectID)
    }
}
