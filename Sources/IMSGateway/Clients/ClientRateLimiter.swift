import IMSClient
import Synchronization

/// One token bucket per client name, exact under concurrency (one `Mutex` around all buckets),
/// time from an injected clock so that tests move time by hand instead of sleeping.
///
/// Buckets live as long as the limiter; client names come from the clients file, so their number
/// is bounded by it.
public final class ClientRateLimiter<C: Clock>: Sendable where C.Duration == Duration {
    private struct Entry: Sendable {
        var limit: ClientRateLimit
        var bucket: TokenBucket<C.Instant>

        /// A full bucket for `limit`.
        init(limit: ClientRateLimit, now: C.Instant) {
            self.limit = limit
            bucket = TokenBucket(rate: limit.rate, burst: limit.burst, now: now)
        }
    }

    private let clock: C
    private let entries: Mutex<[String: Entry]>

    /// Creates a limiter with no buckets, reading time from `clock`.
    public init(clock: C) {
        self.clock = clock
        entries = Mutex([:])
    }

    /// Takes one token from `client`'s bucket, creating it full on first use; a `limit` different
    /// from the previous call's (clients file reloaded) resizes the bucket, keeping at most the new
    /// burst of the tokens it holds.
    /// - Parameters:
    ///   - client: the authenticated client's name.
    ///   - limit: the client's limit (requests per second, burst in requests).
    /// - Returns: the decision, with whole remaining tokens and whole seconds until retry and reset.
    public func admit(client: String, limit: ClientRateLimit) -> RateLimitDecision {
        entries.withLock { entries in
            // Read inside the lock so that the buckets see time in the order calls are served.
            let now = clock.now
            return Self.admit(&entries[client, default: Entry(limit: limit, now: now)], limit: limit, now: now)
        }
    }

    /// Applies the limits of a reloaded clients file at once: each bucket is brought up to now
    /// at its old rate and resized to its new limit (so time idle after the reload counts at the
    /// new rate), and the buckets of clients no longer in the file are dropped.
    /// - Parameter limits: every client's limit, by name.
    public func apply(limits: [String: ClientRateLimit]) {
        entries.withLock { entries in
            let now = clock.now
            for name in Array(entries.keys) {
                guard let limit = limits[name] else {
                    entries[name] = nil
                    continue
                }
                if entries[name]?.limit != limit {
                    entries[name]?.bucket.resize(rate: limit.rate, burst: limit.burst, now: now)
                    entries[name]?.limit = limit
                }
            }
        }
    }

    /// Clients with a bucket now.
    public var bucketCount: Int { entries.withLock { $0.count } }

    private static func admit(_ entry: inout Entry, limit: ClientRateLimit, now: C.Instant) -> RateLimitDecision {
        if entry.limit != limit {
            entry.bucket.resize(rate: limit.rate, burst: limit.burst, now: now)
            entry.limit = limit
        }
        let taken = entry.bucket.take(now: now)
        let reset = wholeSecondsRoundedUp(entry.bucket.durationUntilFull(now: now))
        switch taken {
        case .admitted(let remaining):
            return RateLimitDecision(
                admitted: true, limit: limit, remaining: remaining, retryAfterSeconds: 0, resetSeconds: reset)
        case .refused(let retryAfter):
            return RateLimitDecision(
                admitted: false, limit: limit, remaining: 0,
                retryAfterSeconds: max(1, wholeSecondsRoundedUp(retryAfter)), resetSeconds: reset)
        }
    }

    /// Whole seconds in `duration`, rounded up (0 for zero or negative durations).
    private static func wholeSecondsRoundedUp(_ duration: Duration) -> Int {
        let attoseconds = duration.attoseconds
        guard attoseconds > 0 else { return 0 }
        let perSecond: Int128 = 1_000_000_000_000_000_000
        return Int(clamping: (attoseconds + perSecond - 1) / perSecond)
    }
}
