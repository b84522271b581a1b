import Logging
import PostgresNIO

extension PostgresGatewayStore: SharedTokenBuckets {
    /// Takes one token from bucket `name` in `token_buckets` (docs/ARCHITECTURE.md, "Shared
    /// budgets"): one guarded `UPDATE ... RETURNING` on the database's clock, so that replicas
    /// taking at once are served one after the other on the row's lock and never take more
    /// than the bucket holds. A bucket taken for the first time is created full (one
    /// `INSERT ... ON CONFLICT DO NOTHING`); a refused take reads the row once more to say
    /// when to come back.
    /// - Returns: the take, with what is left.
    /// - Throws: ``StoreError`` when the store cannot be reached or fails.
    public func takeToken(bucket name: String, rate: Double, burst: Int) async throws(StoreError) -> SharedTokenTake {
        let logger = logger
        let rate = Self.positiveRate(rate)
        let burst = Double(max(1, burst))
        return try await autocommit("taking a token of \(name)") { connection in
            // A take that lost a race with the first take (the row was not committed yet when
            // it looked) finds tokens on its read: it tries again, a few times at most.
            var attempts = 0
            while true {
                attempts += 1
                if let tokens = try await Self.take(connection, name: name, rate: rate, burst: burst, logger: logger) {
                    return Self.granted(tokens: tokens, rate: rate, burst: burst)
                }
                guard
                    let row = try await connection.query(
                        """
                        SELECT tokens, updated_ms, paused_until_ms, \(unescaped: Self.databaseNowMs)
                        FROM token_buckets WHERE name = \(name)
                        """, logger: logger
                    ).collect().first
                else {
                    // Deleted in between (never done by the gateway): come back at once.
                    return SharedTokenTake(granted: false, remaining: 0, retryAfterMs: 1, fullInMs: 0)
                }
                let (tokens, updatedMs, pausedUntilMs, nowMs) = try row.decode((Double, Int64, Int64, Int64).self)
                let held = min(burst, tokens + rate * Double(max(0, nowMs - updatedMs)) / 1000)
                if held >= 1, nowMs >= pausedUntilMs, attempts < 4 { continue }
                // The first instant a token is there: after the refill, and not before the pause ends.
                let refillMs = held >= 1 ? 0 : Int64(((1 - held) / rate * 1000).rounded(.up))
                let retryAfterMs = max(1, max(nowMs + refillMs, pausedUntilMs) - nowMs)
                return SharedTokenTake(
                    granted: false, remaining: 0, retryAfterMs: retryAfterMs,
                    fullInMs: Int64(((burst - held) / rate * 1000).rounded(.up)),
                    pausedForMs: max(0, pausedUntilMs - nowMs))
            }
        }
    }

    /// The guarded take, then the first one (a bucket created full); the tokens left, or nil
    /// when refused.
    private static func take(
        _ connection: PostgresConnection, name: String, rate: Double, burst: Double, logger: Logger
    ) async throws -> Double? {
        if let row = try await connection.query(
            """
            UPDATE token_buckets SET
                tokens = LEAST(\(burst)::float8, tokens + \(rate)::float8 * GREATEST(0, n.ms - updated_ms) / 1000.0) - 1,
                updated_ms = GREATEST(updated_ms, n.ms)
            FROM (SELECT \(unescaped: Self.databaseNowMs) AS ms) AS n
            WHERE name = \(name) AND n.ms >= paused_until_ms
                AND LEAST(\(burst)::float8, tokens + \(rate)::float8 * GREATEST(0, n.ms - updated_ms) / 1000.0) >= 1
            RETURNING tokens
            """, logger: logger
        ).collect().first {
            return try row.decode(Double.self)
        }
        return try await connection.query(
            """
            INSERT INTO token_buckets (name, tokens, updated_ms, paused_until_ms)
            VALUES (\(name), \(burst - 1)::float8, \(unescaped: Self.databaseNowMs), 0)
            ON CONFLICT (name) DO NOTHING RETURNING tokens
            """, logger: logger
        ).collect().first?.decode(Double.self)
    }

    /// Pauses bucket `name` in `token_buckets` for `milliseconds` from the database's clock now
    /// (one `INSERT ... ON CONFLICT DO UPDATE ... WHERE` that only lengthens a pause): the
    /// tokens held are dropped, and the refill is set to complete exactly one token when the
    /// pause ends.
    /// - Throws: ``StoreError`` when the store cannot be reached or fails.
    public func pauseBucket(_ name: String, rate: Double, milliseconds: Int64) async throws(StoreError) {
        let logger = logger
        let oneTokenMs = Int64((1000 / Self.positiveRate(rate)).rounded(.up))
        let pauseMs = max(0, milliseconds)
        try await autocommit("pausing \(name)") { connection in
            try await connection.query(
                """
                INSERT INTO token_buckets AS b (name, tokens, updated_ms, paused_until_ms)
                SELECT \(name), 0, n.ms + \(pauseMs) - \(oneTokenMs), n.ms + \(pauseMs)
                FROM (SELECT \(unescaped: Self.databaseNowMs) AS ms) AS n
                ON CONFLICT (name) DO UPDATE SET
                    tokens = 0, updated_ms = excluded.updated_ms, paused_until_ms = excluded.paused_until_ms
                WHERE excluded.paused_until_ms > b.paused_until_ms
                """, logger: logger
            ).collect()
        }
    }

    /// Stores this replica's heartbeat in `replicas` (its id, the database's clock now),
    /// forgets replicas not seen for a day, and counts those seen within `withinMs`.
    /// - Returns: at least 1 (this replica).
    /// - Throws: ``StoreError`` when the store cannot be reached or fails.
    public func heartbeat(withinMs: Int64) async throws(StoreError) -> Int {
        let (logger, id) = (logger, replicaID)
        return try await write("storing the heartbeat", counted: false) { connection in
            try await connection.query(
                """
                INSERT INTO replicas AS r (id, seen_ms) VALUES (\(id), \(unescaped: Self.databaseNowMs))
                ON CONFLICT (id) DO UPDATE SET seen_ms = excluded.seen_ms
                """, logger: logger
            ).collect()
            try await connection.query(
                "DELETE FROM replicas WHERE seen_ms < \(unescaped: Self.databaseNowMs) - 86400000", logger: logger
            ).collect()
            let rows = try await connection.query(
                "SELECT count(*) FROM replicas WHERE seen_ms >= \(unescaped: Self.databaseNowMs) - \(max(0, withinMs))",
                logger: logger
            ).collect()
            return max(1, Int(try rows.first?.decode(Int64.self) ?? 1))
        }
    }

    /// A granted take: `tokens` left after it.
    private static func granted(tokens: Double, rate: Double, burst: Double) -> SharedTokenTake {
        SharedTokenTake(
            granted: true, remaining: max(0, Int(tokens.rounded(.down))), retryAfterMs: 0,
            fullInMs: Int64((max(0, burst - tokens) / rate * 1000).rounded(.up)))
    }

    /// `rate` when finite and positive, else one token per 1,000,000 s (as the local buckets).
    private static func positiveRate(_ rate: Double) -> Double {
        rate.isFinite && rate > 0 ? rate : 1e-6
    }
}
