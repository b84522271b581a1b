/// A client's inbound rate limit: a token bucket of `rate` requests per second and `burst`
/// capacity (requests admitted at once after a quiet spell).
public struct ClientRateLimit: Sendable, Equatable, Hashable {
    /// Requests per second the bucket refills (for example 0.5 = one request every 2 seconds).
    /// Values that are not finite or not positive are applied as the token bucket's minimum rate.
    public var rate: Double
    /// The most requests admitted at once, in requests; values below 1 are applied as 1.
    public var burst: Int

    /// Creates a limit of `rate` requests per second and `burst` requests of capacity.
    public init(rate: Double, burst: Int) {
        self.rate = rate
        self.burst = burst
    }
}
