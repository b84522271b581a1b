/// The account's IMS call budget as every replica of the gateway shares it (docs/ARCHITECTURE.md,
/// "Shared budgets"): a token bucket kept in the shared store, so that N replicas together
/// never send more than the one configured budget. Given to ``UpstreamLimiter``, which keeps
/// its fair order locally and asks this budget for every token it grants.
public protocol SharedUpstreamBudget: Sendable {
    /// Takes one token of the shared budget.
    /// - Returns: nil when a token was taken; otherwise how long until one can be (the
    ///   shared pause, then the refill), more than zero.
    /// - Throws: any error when the shared budget cannot be reached; the limiter then grants
    ///   from its own share of the budget (``fallbackShare``) until it can again.
    func take() async throws -> Duration?

    /// IMS answered 429: no replica gets a token for `duration` (the pause is kept when it
    /// cannot be stored; this replica's own limiter is paused anyway).
    func pause(for duration: Duration) async

    /// The part of the budget this replica uses alone while the shared budget cannot be
    /// reached: 1 / the replicas it last saw alive, in (0, 1].
    var fallbackShare: Double { get }
}
