import Foundation
import GatewayStore
import PostgresNIO
import PostgresTestSupport
import Testing

/// The server-side bounds of the PostgreSQL store's sessions (`lock_timeout`,
/// `statement_timeout`; docs/ARCHITECTURE.md, "Replicas"): a transaction of another session
/// holds the advisory lock an admission of client `alpha` needs, so the admission waits, and
/// must fail `unavailable` at the bound instead of waiting as long as the lock is held.
@Suite(
    "PostgreSQL store: lock and statement timeouts", .serialized,
    .enabled(if: PostgresTestServer.runs, "POSTGRES_TEST_URL is not set"))
struct PostgresTimeoutTests {
    @Test("an admission behind a held client lock fails unavailable (55P03) at lock_timeout, and succeeds once the lock is gone")
    func lockTimeout() async throws {
        try await Self.behindHeldLock(lockTimeoutMs: 300, statementTimeoutMs: 60_000, expected: "55P03")
    }

    @Test("a statement running past statement_timeout is cancelled (57014) and the call fails unavailable")
    func statementTimeout() async throws {
        try await Self.behindHeldLock(lockTimeoutMs: 60_000, statementTimeoutMs: 300, expected: "57014")
    }

    /// Admits `r1` of client `alpha` while another session holds alpha's admission lock; then
    /// again after that session commits.
    static func behindHeldLock(lockTimeoutMs: Int, statementTimeoutMs: Int, expected: String) async throws {
        let database = try await PostgresTestServer.createDatabase()
        let store = try PostgresGatewayStore(
            settings: try PostgresTestServer.settings(database: database), gatewayVersion: Fixture.version,
            replicaID: "replica-a", statementTimeoutMs: statementTimeoutMs, lockTimeoutMs: lockTimeoutMs,
            logger: Fixture.logger)
        let run = Task { try await store.run() }
        try await store.migrate()
        try await PostgresTestServer.withConnection(database: database) { holder in
            _ = try await holder.query("BEGIN", logger: Fixture.logger).collect()
            _ = try await holder.query(
                "SELECT pg_advisory_xact_lock(\(PostgresGatewayStore.admissionLockClass), hashtext('alpha'))",
                logger: Fixture.logger
            ).collect()
            let started = ContinuousClock.now
            let refused = await #expect(throws: StoreError.self) {
                try await Fixture.admit(store, Fixture.request("r1"))
            }
            let waited = ContinuousClock.now - started
            #expect(refused?.kind == .unavailable)
            #expect(refused?.message.contains(expected) == true, "\(String(describing: refused))")
            // Loose bounds: it waited for the bound, and far less than the other one (60 s).
            #expect(waited >= .milliseconds(250) && waited < .seconds(20), "\(waited)")
            _ = try await holder.query("COMMIT", logger: Fixture.logger).collect()
        }
        #expect(try await Fixture.admit(store, Fixture.request("r1")) == .admitted)
        run.cancel()
        _ = await run.result
        try await PostgresTestServer.dropDatabase(database)
    }
}
