import IMSClient

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
    /// The client's share of the IMS call budget against the other clients with calls waiting
    /// (`weight` in the clients file, 0.01 to 1000; default 1).
    public var weight: Double
    /// Most requests of this client not yet final (waiting or in the background) at once
    /// (`max_pending_requests` in the clients file); nil for `clients.maxPendingRequests`.
    public var maxPendingRequests: Int?
    /// Most requests of this client stored at once, running and finished, before its new
    /// requests with an `Idempotency-Key` are refused (`max_stored_requests` in the clients
    /// file); nil for `outcomes.maxPerClient`.
    public var maxStoredRequests: Int?

    /// A client named `name`, allowed `projects`, limited by `rateLimit`, of weight 1 and the
    /// default bound on pending requests.
    public init(name: String, projects: ProjectScope, rateLimit: ClientRateLimit) {
        self.name = name
        self.projects = projects
        self.rateLimit = rateLimit
        self.weight = 1
        self.maxPendingRequests = nil
        self.maxStoredRequests = nil
    }

    /// The client as a caller of the IMS call budget.
    public var upstreamCaller: UpstreamCaller { UpstreamCaller(client: name, weight: weight) }

    /// Whether the client may act on `projectID` (a `project_id` already normalised to lower case).
    public func allows(projectID: String) -> Bool {
        projects.contains(projectID)
    }
}
