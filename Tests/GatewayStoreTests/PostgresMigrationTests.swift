import Foundation
import GatewayStore
import PostgresTestSupport
import PostgresNIO
import Testing

/// A PostgreSQL store on `database`, its pool running until `body` returns.
private func withStore<T: Sendable>(
    database: String, version: String = Fixture.version, _ body: (PostgresGatewayStore) async throws -> T
) async throws -> T {
    let store = try PostgresGatewayStore(
        settings: try PostgresTestServer.settings(database: database), gatewayVersion: version, replicaID: "migrate-test",
        logger: Fixture.logger)
    let run = Task { try await store.run() }
    defer { run.cancel() }
    return try await body(store)
}

/// Sets one `store_meta` value of `database` around the store.
private func setMeta(_ database: String, _ key: String, _ value: String) async throws {
    try await PostgresTestServer.withConnection(database: database) { connection in
        try await connection.query("UPDATE store_meta SET value = \(value) WHERE key = \(key)", logger: Fixture.logger)
    }
}

@Suite("PostgreSQL store: migrations", .enabled(if: PostgresTestServer.runs, "POSTGRES_TEST_URL is not set"))
struct PostgresMigrationTests {
    @Test("replicas migrating a new database at once migrate it once; migrating again is a no-op")
    func concurrentMigrations() async throws {
        let database = try await PostgresTestServer.createDatabase()
        // Four replicas start at once: without the advisory lock the second CREATE TABLE fails.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<4 {
                group.addTask { try await withStore(database: database) { store in try await store.migrate() } }
            }
            try await group.waitForAll()
        }
        try await withStore(database: database) { store in
            #expect(try await store.storedVersions() == (StoreSchema.version, StoreSchema.minimumGatewayVersion))
            try await store.migrate()
            try await store.checkSchema()
            #expect(try await store.storedVersions() == (StoreSchema.version, StoreSchema.minimumGatewayVersion))
            #expect(try await Fixture.admit(store, Fixture.request("r1")) == .admitted)
        }
        let tables = try await PostgresTestServer.withConnection(database: database) { connection in
            try await connection.query(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename", logger: Fixture.logger
            ).collect().map { try $0.decode(String.self) }
        }
        #expect(tables == [
            "batches", "client_counts", "replicas", "request_events", "requests", "store_meta", "submit_attempts", "token_buckets",
        ])
        try await PostgresTestServer.dropDatabase(database)
    }

    @Test("a database never migrated fails checkSchema, naming the command to run")
    func notMigrated() async throws {
        let database = try await PostgresTestServer.createDatabase()
        try await withStore(database: database) { store in
            #expect(try await store.storedVersions() == (nil, nil))
            let error = try await #require(throws: StoreError.self) { try await store.checkSchema() }
            #expect(error.kind == .incompatible)
            #expect(error.message.contains("ims-gateway migrate"))
            #expect(error.message.contains(database))
        }
        try await PostgresTestServer.dropDatabase(database)
    }

    @Test("a store that needs a newer gateway, or is at a newer schema, is incompatible and left alone")
    func incompatible() async throws {
        let database = try await PostgresTestServer.createDatabase()
        try await withStore(database: database) { store in try await store.migrate() }
        try await setMeta(database, "min_gateway_version", "9.0.0")
        try await withStore(database: database, version: "0.5.0") { store in
            for call in [{ try await store.migrate() }, { try await store.checkSchema() }] as [@Sendable () async throws -> Void] {
                let error = try await #require(throws: StoreError.self) { try await call() }
                #expect(error.kind == .incompatible)
                #expect(error.message.contains("needs gateway 9.0.0 or newer, this one is 0.5.0"))
            }
        }
        try await setMeta(database, "min_gateway_version", "0.4.0")
        try await setMeta(database, "schema_version", "\(StoreSchema.version + 1)")
        try await withStore(database: database) { store in
            let error = try await #require(throws: StoreError.self) { try await store.migrate() }
            #expect(error.kind == .incompatible)
            #expect(error.message.contains("newer than the \(StoreSchema.version)"))
            #expect(try await store.storedVersions().schemaVersion == StoreSchema.version + 1)
        }
        try await PostgresTestServer.dropDatabase(database)
    }

    @Test("a server nobody listens on is unavailable, naming the store and not the password")
    func unreachable() async throws {
        // A port taken and closed again: nothing listens there.
        var settings = try PostgresTestServer.settings()
        settings.port = 1
        settings.password = "hunter2"
        let store = try PostgresGatewayStore(
            settings: settings, gatewayVersion: Fixture.version, replicaID: "unreachable-test", connectTimeoutMs: 1000,
            leaseTimeoutMs: 1000,
            logger: Fixture.logger)
        let run = Task { try await store.run() }
        defer { run.cancel() }
        let error = try await #require(throws: StoreError.self) { try await store.counts(client: "alpha") }
        #expect(error.kind == .unavailable, "\(error.message)")
        #expect(error.message.contains(settings.description))
        #expect(!error.message.contains("hunter2"))
    }
}
