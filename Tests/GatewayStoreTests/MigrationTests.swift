import Foundation
import GRDB
import GatewayStore
import Testing

@Suite("SQLite store: opening and migrations")
struct MigrationTests {
    @Test("a new file gets schema version 3 and the minimum gateway version; migrating twice is a no-op")
    func newFile() throws {
        let folder = try TemporaryFolder()
        let path = folder.file("store.sqlite")
        let store = try SQLiteGatewayStore(path: path, gatewayVersion: "0.6.0", logger: Fixture.logger)
        #expect(try store.storedVersions().schemaVersion == nil)
        #expect(throws: StoreError.self) { try store.checkSchema() }
        try store.migrate()
        var versions = try store.storedVersions()
        #expect(versions.schemaVersion == 3)
        #expect(versions.minimumGatewayVersion == "0.6.0")
        #expect(SQLiteGatewayStore.schemaVersion == 3)
        #expect(SQLiteGatewayStore.minimumGatewayVersion == "0.6.0")
        try store.checkSchema()
        try store.migrate()
        versions = try store.storedVersions()
        #expect(versions.schemaVersion == 3)
        #expect(versions.minimumGatewayVersion == "0.6.0")
        try store.close()

        let queue = try DatabaseQueue(path: path)
        let migrations = try queue.read { db in
            try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations ORDER BY identifier")
        }
        #expect(migrations == ["1-requests", "2-client-counts", "3-leases"])
        let tables = try queue.read { db in
            try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        }
        #expect(
            tables == [
                "batches", "client_counts", "grdb_migrations", "request_events", "requests", "store_meta",
                "submit_attempts",
            ])
        let journal = try queue.read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") }
        #expect(journal == "wal")
        try queue.close()
    }

    @Test("a new store file and its WAL are readable by their owner only; an existing file keeps its mode")
    func newFileMode() throws {
        let folder = try TemporaryFolder()
        let path = folder.file("store.sqlite")
        let store = try SQLiteGatewayStore(path: path, gatewayVersion: "0.6.0", logger: Fixture.logger)
        try store.migrate()
        func mode(_ file: String) throws -> Int {
            (try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int ?? -1) & 0o777
        }
        #expect(try mode(path) == 0o600)
        #expect(try mode(path + "-wal") == 0o600)
        try store.close()

        let shared = folder.file("shared.sqlite")
        #expect(FileManager.default.createFile(atPath: shared, contents: nil, attributes: [.posixPermissions: 0o640]))
        let existing = try SQLiteGatewayStore(path: shared, gatewayVersion: "0.6.0", logger: Fixture.logger)
        try existing.migrate()
        #expect(try mode(shared) == 0o640)
        try existing.close()
    }

    @Test("a store that needs a newer gateway is incompatible, for migrate and checkSchema")
    func minimumGatewayAboveRunning() throws {
        let folder = try TemporaryFolder()
        let path = folder.file("store.sqlite")
        try Fixture.store(path).close()
        let old = try SQLiteGatewayStore(path: path, gatewayVersion: "0.3.9", logger: Fixture.logger)
        for operation in [{ try old.migrate() }, { try old.checkSchema() }] {
            let error = try #require(throws: StoreError.self) { try operation() }
            #expect(error.kind == .incompatible)
            #expect(error.message.contains(path))
            #expect(error.message.contains("0.6.0"))
            #expect(error.message.contains("0.3.9"))
        }
        try old.close()
        // A newer gateway works on it.
        let newer = try SQLiteGatewayStore(path: path, gatewayVersion: "0.10.0", logger: Fixture.logger)
        try newer.migrate()
        try newer.checkSchema()
        try newer.close()
    }

    @Test("a schema version above the known one is incompatible and left alone")
    func schemaAboveKnown() throws {
        let folder = try TemporaryFolder()
        let path = folder.file("store.sqlite")
        try Fixture.store(path).close()
        let queue = try DatabaseQueue(path: path)
        try queue.write { db in
            try db.execute(sql: "UPDATE store_meta SET value = '4' WHERE key = 'schema_version'")
            try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('4-future')")
        }
        try queue.close()
        let store = try SQLiteGatewayStore(path: path, gatewayVersion: "0.6.0", logger: Fixture.logger)
        for operation in [{ try store.migrate() }, { try store.checkSchema() }] {
            let error = try #require(throws: StoreError.self) { try operation() }
            #expect(error.kind == .incompatible)
            #expect(error.message.contains(path))
            #expect(error.message.contains("schema version 4"))
            #expect(error.message.contains("3"))
        }
        #expect(try store.storedVersions().schemaVersion == 4)
        try store.close()
    }

    @Test("migrating a schema 1 store with requests fills client_counts from its rows; the triggers keep them")
    func fromSchema1() async throws {
        let folder = try TemporaryFolder()
        let path = folder.file("store.sqlite")
        let store = try Fixture.store(path)
        for (id, client) in [("a1", "alpha"), ("a2", "alpha"), ("a3", "alpha"), ("b1", "beta")] {
            #expect(try await Fixture.admit(store, Fixture.request(id, client: client)) == .admitted)
        }
        try await store.update(
            requestID: "a2", batches: [], change: RequestChange(state: .final, at: Fixture.ms(1_780_000_001_000)),
            events: [])
        try store.close()
        // Back to what schema version 1 was: no counts table, no triggers.
        let queue = try DatabaseQueue(path: path)
        try await queue.write { db in
            for trigger in ["insert", "delete", "state", "client"] {
                try db.execute(sql: "DROP TRIGGER requests_counted_\(trigger)")
            }
            try db.execute(sql: "DROP TABLE client_counts")
            try db.execute(sql: "ALTER TABLE requests DROP COLUMN owner")
            try db.execute(sql: "ALTER TABLE requests DROP COLUMN lease_until")
            try db.execute(sql: "DELETE FROM grdb_migrations WHERE identifier IN ('2-client-counts', '3-leases')")
            try db.execute(sql: "UPDATE store_meta SET value = '1' WHERE key = 'schema_version'")
        }
        try queue.close()

        let old = try SQLiteGatewayStore(path: path, gatewayVersion: "0.6.0", logger: Fixture.logger)
        let error = try #require(throws: StoreError.self) { try old.checkSchema() }
        #expect(error.kind == .incompatible)
        try old.migrate()
        #expect(try old.storedVersions().schemaVersion == 3)
        #expect(try await old.counts(client: "alpha") == ClientRequestCounts(stored: 3, running: 2))
        #expect(try await old.counts(client: "beta") == ClientRequestCounts(stored: 1, running: 1))
        #expect(try await old.counts(client: "gamma") == ClientRequestCounts(stored: 0, running: 0))
        #expect(try await Fixture.admit(old, Fixture.request("a4")) == .admitted)
        #expect(try await old.counts(client: "alpha") == ClientRequestCounts(stored: 4, running: 3))
        try old.close()
    }

    @Test("dotted versions compare by their numbers")
    func versionOrder() {
        #expect(SQLiteGatewayStore.isVersion("0.3.9", olderThan: "0.4.0"))
        #expect(SQLiteGatewayStore.isVersion("0.9.1", olderThan: "0.10.0"))
        #expect(!SQLiteGatewayStore.isVersion("0.10.0", olderThan: "0.9.1"))
        #expect(!SQLiteGatewayStore.isVersion("0.4", olderThan: "0.4.0"))
        #expect(!SQLiteGatewayStore.isVersion("0.4.0", olderThan: "0.4.0"))
        #expect(!SQLiteGatewayStore.isVersion("0.4.0-rc.1", olderThan: "0.4.0"))
        #expect(SQLiteGatewayStore.isVersion("0.4.0", olderThan: "0.4.1"))
        #expect(SQLiteGatewayStore.isVersion("1.2", olderThan: "1.2.0.1"))
        #expect(!SQLiteGatewayStore.isVersion("dev", olderThan: "0.4.0"))
    }

    @Test("a second store on the same path is refused while the first is open, then opens")
    func lockFile() async throws {
        let folder = try TemporaryFolder()
        let path = folder.file("store.sqlite")
        let first = try Fixture.store(path)
        let error = try #require(throws: StoreError.self) {
            _ = try SQLiteGatewayStore(path: path, gatewayVersion: "0.6.0", logger: Fixture.logger)
        }
        #expect(error.kind == .locked)
        #expect(error.message.contains(path + ".lock"))
        #expect(!error.message.contains("\n"))
        try first.close()
        let second = try SQLiteGatewayStore(path: path, gatewayVersion: "0.6.0", logger: Fixture.logger)
        try second.checkSchema()
        // Released when the object goes, too.
        do {
            _ = consume second
        }
        let third = try SQLiteGatewayStore(path: path, gatewayVersion: "0.6.0", logger: Fixture.logger)
        try third.close()
    }

    @Test("deleting the lock file does not let a second store in; a deleted or replaced database file is not in place")
    func lockOnTheDatabaseFile() async throws {
        let folder = try TemporaryFolder()
        let path = folder.file("store.sqlite")
        let first = try Fixture.store(path)
        try first.checkInPlace()
        try FileManager.default.removeItem(atPath: path + ".lock")
        let error = try #require(throws: StoreError.self) {
            _ = try SQLiteGatewayStore(path: path, gatewayVersion: "0.6.0", logger: Fixture.logger)
        }
        #expect(error.kind == .locked)
        #expect(error.message.contains(path))
        // The database file deleted under it: new requests must not go into it.
        try FileManager.default.removeItem(atPath: path)
        let gone = try #require(throws: StoreError.self) { try first.checkInPlace() }
        #expect(gone.kind == .unavailable)
        #expect(gone.message.contains(path))
        #expect(gone.message.contains("deleted or replaced"))
        try first.close()
    }

    @Test("a file of garbage is corrupt, naming the file")
    func garbage() throws {
        let folder = try TemporaryFolder()
        let path = folder.file("store.sqlite")
        let bytes = (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let error = try #require(throws: StoreError.self) {
            _ = try SQLiteGatewayStore(path: path, gatewayVersion: "0.6.0", logger: Fixture.logger)
        }
        #expect(error.kind == .corrupt)
        #expect(error.message.contains(path))
        // The failed open released its lock: a second try fails the same way, not `.locked`.
        let again = try #require(throws: StoreError.self) {
            _ = try SQLiteGatewayStore(path: path, gatewayVersion: "0.6.0", logger: Fixture.logger)
        }
        #expect(again.kind == .corrupt)
    }

    @Test("a path whose folder is a regular file, or missing, is unwritable, naming the file")
    func unwritable() throws {
        let folder = try TemporaryFolder()
        let plain = folder.file("file.txt")
        try Data("not a folder".utf8).write(to: URL(fileURLWithPath: plain))
        for path in [plain + "/store.sqlite", folder.file("missing/store.sqlite")] {
            let error = try #require(throws: StoreError.self) {
                _ = try SQLiteGatewayStore(path: path, gatewayVersion: "0.6.0", logger: Fixture.logger)
            }
            #expect(error.kind == .unwritable)
            #expect(error.message.contains(path))
        }
    }
}
