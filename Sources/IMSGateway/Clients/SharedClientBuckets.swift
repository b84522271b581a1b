import GatewayStore

/// The clients' inbound token buckets in the shared (PostgreSQL) store, bucket `client:NAME` of
/// ``SharedTokenBuckets`` (docs/ARCHITECTURE.md, "Shared budgets"): every replica takes from
/// the same bucket, so a client spreading its calls over N replicas still gets one limit.
/// While the store cannot be reached, each replica admits from its own bucket at its share of
/// the limit (1 / the replicas it last saw alive, burst at least 1).
struct SharedClientBuckets: Sendable {
    let buckets: any SharedTokenBuckets
    /// The local buckets used while the store cannot be reached.
    let fallback: ClientRateLimiter<ContinuousClock>
    let replicas: AliveReplicas
    let health: StoreHealth

    /// Takes one token of `client`'s shared bucket.
    /// - Returns: the decision, in whole seconds as ``ClientRateLimiter/admit(client:limit:)``
    ///   gives it.
    func admit(client: String, limit: ClientRateLimit) async -> RateLimitDecision {
        if health.skipsStore() { return fallbackDecision(client: client, limit: limit) }
        do {
            let take = try await buckets.takeToken(bucket: "client:" + client, rate: limit.rate, burst: limit.burst)
            health.succeeded()
            return RateLimitDecision(
                admitted: take.granted, limit: limit, remaining: take.remaining,
                retryAfterSeconds: take.granted ? 0 : Self.wholeSecondsRoundedUp(max(1, take.retryAfterMs)),
                resetSeconds: Self.wholeSecondsRoundedUp(take.fullInMs))
        } catch {
            health.failed(error)
            return fallbackDecision(client: client, limit: limit)
        }
    }

    /// This replica's share of `limit`, from its own bucket.
    private func fallbackDecision(client: String, limit: ClientRateLimit) -> RateLimitDecision {
        let share = replicas.share
        let shared = ClientRateLimit(
            rate: limit.rate * share, burst: max(1, Int((Double(limit.burst) * share).rounded(.down))))
        return fallback.admit(client: client, limit: shared)
    }

    /// Whole seconds in `milliseconds`, rounded up (0 for zero or less).
    private static func wholeSecondsRoundedUp(_ milliseconds: Int64) -> Int {
        milliseconds <= 0 ? 0 : Int((milliseconds + 999) / 1000)
    }
}
