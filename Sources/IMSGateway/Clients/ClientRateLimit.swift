/// The token bucket that limits how fast one client may call the gateway.
public struct ClientRateLimit: Sendable, Equatable, Hashable {
    /// Requests per second the bucket refills (greater than zero, may be fractional).
    public var rate: Double
    /// Requests the bucket holds when full: how many may arrive at once (at least 1).
    public var burst: Int

    /// A limit of `rate` requests per second with bursts of up to `burst` requests.
    public init(rate: Double, burst: Int) {
        self.rate = rate
        self.burst = burst
    }
}
