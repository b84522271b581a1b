import Foundation
import GRDB
import GatewayStore
import Logging
import PostgresNIO
import PostgresTestSupport
import Testing

/// The engines the store contract runs on: SQLite always; PostgreSQL when
/// `POSTGRES_TEST_URL` names a server (CI starts one with scripts/postgres-cluster.sh
/// and sets `POSTGRES_TEST_REQUIRED=1`, so that there a missing server fails instead of
/// being skipped).
enum StoreEngine: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite
    case postgres

    var testDescription: String { self == .sqlite ? "SQLite" : "PostgreSQL" }

    /// The engines available to this run.
    static var available: [StoreEngine] { PostgresTestServer.url == nil ? [.sqlite] : [.sqlite, .postgres] }
}

/// A migrated store of one engine on a fresh SQLite file or a fresh PostgreSQL database,
/// with what the engine-independent tests need to look inside it.
final class TestStore: Sendable {
    let engine: StoreEngine
    let store: any GatewayStore
    private let folder: TemporaryFolder?
    private let sqlite: SQLiteGatewayStore?
    /// The PostgreSQL store, for the PostgreSQL-only suites.
    let postgres: PostgresGatewayStore?
    private let database: String?
    /// The PostgreSQL database's name (nil on SQLite).
    var databaseName: String? { database }
    private let runTask: Task<Void, any Error>?

    /// Opens and migrates a new store of `engine` (on PostgreSQL, as replica `replica-a` with
    /// leases of `leaseMs`).
    static func open(_ engine: StoreEngine, leaseMs: Int = 30_000) async throws -> TestStore {
        switch engine {
        case .sqlite:
            let folder = try TemporaryFolder()
            let store = try Fixture.store(folder.file("store.sqlite"))
            return TestStore(engine: engine, folder: folder, sqlite: store, postgres: nil, database: nil, runTask: nil)
        case .postgres:
            let database = try await PostgresTestServer.createDatabase()
            let store = try PostgresGatewayStore(
                settings: try PostgresTestServer.settings(database: database), gatewayVersion: Fixture.version,
                replicaID: "replica-a", leaseMs: leaseMs, logger: Fixture.logger)
            let runTask = Task { try await store.run() }
            try await store.migrate()
            return TestStore(
                engine: engine, folder: nil, sqlite: nil, postgres: store, database: database, runTask: runTask)
        }
    }

    private init(
        engine: StoreEngine, folder: TemporaryFolder?, sqlite: SQLiteGatewayStore?, postgres: PostgresGatewayStore?,
        database: String?, runTask: Task<Void, any Error>?
    ) {
        self.engine = engine
        self.folder = folder
        self.sqlite = sqlite
        self.postgres = postgres
        self.database = database
        self.runTask = runTask
        self.store = (sqlite as (any GatewayStore)?) ?? postgres!
    }

    /// Another replica on the same PostgreSQL database, its pool running until `body` ends.
    func withReplica<T>(
        _ replicaID: String, leaseMs: Int = 30_000, _ body: (PostgresGatewayStore) async throws -> T
    ) async throws -> T {
        let other = try PostgresGatewayStore(
            settings: try PostgresTestServer.settings(database: try #require(database)), gatewayVersion: Fixture.version,
            replicaID: replicaID, leaseMs: leaseMs, logger: Fixture.logger)
        let run = Task { try await other.run() }
        defer { run.cancel() }
        return try await body(other)
    }

    /// Write transactions committed so far.
    var writeTransactions: Int { sqlite?.writeTransactions ?? postgres?.writeTransactions ?? -1 }

    /// The number of rows of `table` (`batches`, `submit_attempts` or `request_events`) whose
    /// `request_id` is (or, with `equal` false, is not) `requestID`, read around the store.
    func rows(_ table: String, requestID: String, equal: Bool = true) async throws -> Int {
        let sql = "SELECT COUNT(*) FROM \(table) WHERE request_id \(equal ? "=" : "<>") "
        switch engine {
        case .sqlite:
            let queue = try DatabaseQueue(path: sqlite!.path)
            defer { try? queue.close() }
            return try await queue.read { db in
                try Int.fetchOne(db, sql: sql + "?", arguments: [requestID]) ?? -1
            }
        case .postgres:
            return try await PostgresTestServer.withConnection(database: database) { connection in
                let rows = try await connection.query(
                    PostgresQuery(unsafeSQL: sql + "$1", binds: { var b = PostgresBindings(); b.append(requestID); return b }()),
                    logger: Fixture.logger
                ).collect()
                return Int(try rows.first?.decode(Int64.self) ?? -1)
            }
        }
    }

    /// Closes the store; a PostgreSQL database is dropped.
    func close() async throws {
        if let sqlite { try sqlite.close() }
        if let runTask {
            runTask.cancel()
            _ = await runTask.result
        }
        if let database { try await PostgresTestServer.dropDatabase(database) }
    }
}

@Suite("Store engines")
struct StoreEngineTests {
    @Test("PostgreSQL is given to this run, or the run says it is skipped (and CI requires it)")
    func postgresGiven() {
        if PostgresTestServer.url == nil {
            #expect(
                !PostgresTestServer.required,
                "POSTGRES_TEST_REQUIRED=1 but POSTGRES_TEST_URL is not set: the PostgreSQL store is untested")
            if !PostgresTestServer.required {
                print(
                    "note: the PostgreSQL store tests are skipped: set POSTGRES_TEST_URL "
                        + "(scripts/postgres-cluster.sh start DIR prints one)")
            }
        }
        #expect(StoreEngine.available.contains(.sqlite))
    }
}
