/// Token buckets kept in the store, so that every replica on it takes from the same bucket
/// (docs/ARCHITECTURE.md, "Shared budgets"): the account's IMS call budget with its 429 pause,
/// and each client's inbound rate limit. Each take is one atomic statement on the store's own
/// clock, so N replicas together never take more than one bucket holds.
///
/// A bucket is named by the caller (`upstream`, `client:NAME`), created full on its first take,
/// and takes the rate and burst of each call: a changed setting applies from that take on (the
/// tokens held are capped at the new burst, never raised).
public protocol SharedTokenBuckets: Sendable {
    /// Takes one token from bucket `name`.
    /// - Parameters:
    ///   - name: the bucket's name, at most 200 bytes.
    ///   - rate: refill rate in tokens per second (> 0).
    ///   - burst: capacity in tokens (>= 1).
    /// - Returns: whether a token was taken, with the bucket's state after the take.
    /// - Throws: ``StoreError`` when the store cannot be reached or fails.
    func takeToken(bucket name: String, rate: Double, burst: Int) async throws(StoreError) -> SharedTokenTake

    /// No token of bucket `name` before `milliseconds` from the store's clock now (IMS answered
    /// 429 with `Retry-After`). A pause ending later than the one in force extends it; one
    /// ending earlier changes nothing. When it ends the bucket restarts with one token.
    /// - Parameters:
    ///   - rate: the bucket's refill rate in tokens per second (> 0).
    ///   - milliseconds: the pause's length (>= 0).
    /// - Throws: ``StoreError`` when the store cannot be reached or fails.
    func pauseBucket(_ name: String, rate: Double, milliseconds: Int64) async throws(StoreError)

    /// Records this replica as alive now and counts the replicas seen alive within the last
    /// `withinMs` milliseconds, this one included: what a replica divides a budget by while
    /// the store cannot be reached.
    /// - Returns: at least 1.
    /// - Throws: ``StoreError`` when the store cannot be reached or fails.
    func heartbeat(withinMs: Int64) async throws(StoreError) -> Int
}

/// What ``SharedTokenBuckets/takeToken(bucket:rate:burst:)`` found.
public struct SharedTokenTake: Sendable, Equatable {
    /// Whether a token was taken.
    public var granted: Bool
    /// Whole tokens left after the take.
    public var remaining: Int
    /// When refused: milliseconds until a token can be taken (the pause, then the refill),
    /// at least 1; 0 when granted.
    public var retryAfterMs: Int64
    /// Milliseconds until the bucket is full again.
    public var fullInMs: Int64
    /// When refused during a pause (``SharedTokenBuckets/pauseBucket(_:rate:milliseconds:)``,
    /// stored by any replica): milliseconds until it ends; 0 when no pause is in force.
    public var pausedForMs: Int64

    /// A take's result, as described on each property.
    public init(granted: Bool, remaining: Int, retryAfterMs: Int64, fullInMs: Int64, pausedForMs: Int64 = 0) {
        self.granted = granted
        self.remaining = remaining
        self.retryAfterMs = retryAfterMs
        self.fullInMs = fullInMs
        self.pausedForMs = pausedForMs
    }
}
