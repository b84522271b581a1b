/// A pause of the whole IMS call budget after an IMS 429 (APIGW.0308, docs/IMS-API.md,
/// "Throttling"): no call goes before `until`, and then one trial call goes first.
public struct UpstreamPause: Sendable, Equatable {
    /// When calls may go again.
    public var until: ContinuousClock.Instant
    /// The `Retry-After` value IMS sent, as sent (nil when it sent none; the pause is then the
    /// gateway's own backoff). It may ask for more than the pause: the pause is capped by
    /// `upstream.maxPauseSeconds`.
    public var requested: String?

    /// A pause until `until`, set by an answer that asked for `requested`.
    public init(until: ContinuousClock.Instant, requested: String?) {
        self.until = until
        self.requested = requested
    }
}
