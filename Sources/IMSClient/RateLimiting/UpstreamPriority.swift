/// How urgent an IMS call is within its client's share of the account's call budget
/// (docs/ARCHITECTURE.md, "The IMS call budget"): a lower raw value goes first.
///
/// Between clients the budget goes round robin (``UpstreamCaller/weight``); within one client,
/// polls for callers still waiting go before submits, and submits before polls of background
/// waits (jobs whose caller was already answered 504).
public enum UpstreamPriority: Int, Sendable, Comparable, CaseIterable {
    /// A ShowJob (or ShowJobProgress) call for a job that a connected caller waits on.
    case poll = 0
    /// A call that starts a new job (batch update of image member status), or any other call
    /// of the gateway's own (the readiness probe).
    case submit = 1
    /// A ShowJob call for a job whose caller was already answered (a background wait).
    case backgroundPoll = 2

    /// Whether `lhs` is served before `rhs` within one client.
    public static func < (lhs: UpstreamPriority, rhs: UpstreamPriority) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// Who an IMS call is made for: its client's place in the round robin of the account's call
/// budget.
public struct UpstreamCaller: Sendable, Hashable {
    /// The client's name from the clients file; ``gateway`` for the gateway's own calls.
    public var client: String
    /// The client's share relative to the others with calls waiting: a client of weight 2 gets
    /// two tokens for every one of a client of weight 1. Not finite or not above 0 counts as 1.
    public var weight: Double

    /// A caller named `client` with `weight` (default 1).
    public init(client: String, weight: Double = 1) {
        self.client = client
        self.weight = weight.isFinite && weight > 0 ? weight : 1
    }

    /// The gateway's own calls (readiness probes, callers without a client).
    public static let gateway = UpstreamCaller(client: "")
}
