import GatewayStore
import IMSClient
import Logging
import Synchronization

/// The account's IMS call budget in the shared (PostgreSQL) store: bucket `upstream` of
/// ``SharedTokenBuckets``, at `upstream.rate` and `upstream.burst` (docs/ARCHITECTURE.md, "Shared
/// budgets"). Every take and pause reports to the store's health, so that an outage shows in
/// `/readyz` and its log lines like any other store failure. A take refused by a pause that
/// another replica stored (after its IMS 429) is remembered in ``seenPause``, so that this
/// replica's `/readyz`, metrics and `Retry-After` show it too.
final class StoreUpstreamBudget: SharedUpstreamBudget {
    /// The bucket's name in the store.
    static let bucket = "upstream"
    let buckets: any SharedTokenBuckets
    /// Tokens per second.
    let rate: Double
    /// Tokens.
    let burst: Int
    let replicas: AliveReplicas
    let health: StoreHealth
    let logger: Logger
    /// The end of the shared pause the last take found, while it lasts.
    private let pausedUntil = Mutex<ContinuousClock.Instant?>(nil)

    init(
        buckets: any SharedTokenBuckets, rate: Double, burst: Int, replicas: AliveReplicas, health: StoreHealth,
        logger: Logger
    ) {
        self.buckets = buckets
        self.rate = rate
        self.burst = burst
        self.replicas = replicas
        self.health = health
        self.logger = logger
    }

    /// The pause of the shared budget the last take found (stored by any replica), while it
    /// lasts: `until` on this process's clock, `requested` nil (the other replica's IMS
    /// `Retry-After` is not stored); nil when none.
    var seenPause: UpstreamPause? {
        pausedUntil.withLock { until in
            guard let end = until, end > .now else { return nil }
            return UpstreamPause(until: end, requested: nil)
        }
    }

    /// One take of the shared bucket.
    /// - Returns: nil when taken, else the wait the store gave (at least 1 ms).
    /// - Throws: ``StoreError`` when the store cannot be reached or fails.
    func take() async throws -> Duration? {
        if health.skipsStore() { throw StoreError(.unavailable, "the store is unreachable (an outage in progress)") }
        do {
            let take = try await buckets.takeToken(bucket: Self.bucket, rate: rate, burst: burst)
            health.succeeded()
            let now = ContinuousClock.now
            pausedUntil.withLock { $0 = take.pausedForMs > 0 ? now.advanced(by: .milliseconds(take.pausedForMs)) : nil }
            return take.granted ? nil : .milliseconds(max(1, take.retryAfterMs))
        } catch {
            health.failed(error)
            throw error
        }
    }

    /// Stores the pause of an IMS 429 for every replica; a failure is logged (this replica's
    /// limiter is paused anyway).
    func pause(for duration: Duration) async {
        do {
            try await buckets.pauseBucket(Self.bucket, rate: rate, milliseconds: Int64(duration.wholeMilliseconds))
            health.succeeded()
        } catch {
            health.failed(error)
            logger.warning(
                "the IMS pause was not stored; other replicas will learn it from their own 429s",
                metadata: ["error": "\(error)"])
        }
    }

    /// 1 / the replicas last seen alive.
    var fallbackShare: Double { replicas.share }
}
