import Foundation
import GRDB
import Logging

extension SQLiteGatewayStore {
    /// Brings the schema up to ``SQLiteGatewayStore/schemaVersion`` with GRDB's
    /// `DatabaseMigrator` (numbered migrations, each in its own transaction); a no-op on a
    /// store that is up to date. The migrations record `schema_version` and
    /// `min_gateway_version` in `store_meta`.
    /// - Throws: ``StoreError`` `.incompatible` when a newer gateway migrated the store beyond
    ///   this build's schema, or its `min_gateway_version` is above ``gatewayVersion``
    ///   (nothing is changed then); another kind when a migration fails.
    public func migrate() throws(StoreError) {
        let before = try storedVersions()
        if let version = before.schemaVersion {
            try Self.checkCompatible(
                path: path, storedSchemaVersion: version,
                minimumGatewayVersion: before.minimumGatewayVersion ?? Self.minimumGatewayVersion,
                gatewayVersion: gatewayVersion)
        }
        do {
            try Self.migrator.migrate(pool)
        } catch {
            throw Self.storeError(error, file: path, operation: "migrating")
        }
        if before.schemaVersion != Self.schemaVersion {
            logger.info(
                "store migrated",
                metadata: [
                    "store.path": "\(path)", "store.schema_from": "\(before.schemaVersion.map(String.init) ?? "none")",
                    "store.schema_to": "\(Self.schemaVersion)",
                ])
        }
    }

    /// Checks, without changing anything, that this gateway can work on the store as it is:
    /// migrated to exactly ``SQLiteGatewayStore/schemaVersion`` and asking for no newer
    /// gateway than ``gatewayVersion``.
    /// - Throws: ``StoreError`` `.incompatible` when the store was never migrated or is at an
    ///   older schema (run `ims-gateway migrate`), or when it needs a newer gateway; another
    ///   kind when it cannot be read.
    public func checkSchema() throws(StoreError) {
        let stored = try storedVersions()
        guard let version = stored.schemaVersion else {
            throw StoreError(
                .incompatible,
                "the store \(path) has no schema yet (this gateway \(gatewayVersion) needs schema version "
                    + "\(Self.schemaVersion)); run ims-gateway migrate")
        }
        try Self.checkCompatible(
            path: path, storedSchemaVersion: version,
            minimumGatewayVersion: stored.minimumGatewayVersion ?? Self.minimumGatewayVersion,
            gatewayVersion: gatewayVersion)
        if version < Self.schemaVersion {
            throw StoreError(
                .incompatible,
                "the store \(path) is at schema version \(version), this gateway \(gatewayVersion) needs "
                    + "\(Self.schemaVersion); run ims-gateway migrate")
        }
    }

    /// `schema_version` and `min_gateway_version` as stored in `store_meta`; both nil on a
    /// store never migrated. For tests and `ims-gateway migrate` to print.
    /// - Throws: ``StoreError`` when the store cannot be read, `.corrupt` when the version is
    ///   not a number.
    public func storedVersions() throws(StoreError) -> (schemaVersion: Int?, minimumGatewayVersion: String?) {
        do {
            let meta = try pool.read { db in try Self.readMeta(db) }
            return (meta.schemaVersion, meta.minimumGatewayVersion)
        } catch {
            throw Self.storeError(error, file: path, operation: "reading the schema version")
        }
    }

    /// Whether a gateway at `gatewayVersion` can work on this engine's store at
    /// `storedSchemaVersion` (``StoreSchema/checkCompatible(store:storedSchemaVersion:minimumGatewayVersion:gatewayVersion:)``).
    /// - Throws: ``StoreError`` `.incompatible`, naming `path` and both versions.
    public static func checkCompatible(
        path: String, storedSchemaVersion: Int, minimumGatewayVersion: String, gatewayVersion: String
    ) throws(StoreError) {
        try StoreSchema.checkCompatible(
            store: path, storedSchemaVersion: storedSchemaVersion, minimumGatewayVersion: minimumGatewayVersion,
            gatewayVersion: gatewayVersion)
    }

    /// Whether dotted version `version` comes before `other` (``StoreSchema/isVersion(_:olderThan:)``).
    public static func isVersion(_ version: String, olderThan other: String) -> Bool {
        StoreSchema.isVersion(version, olderThan: other)
    }

    /// The numbered migrations, oldest first.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("1-requests") { db in
            for statement in Migrations.version1 {
                try db.execute(sql: statement)
            }
            try db.execute(sql: Migrations.upsertMeta, arguments: ["schema_version", "1"])
            try db.execute(sql: Migrations.upsertMeta, arguments: ["min_gateway_version", "0.4.0"])
        }
        migrator.registerMigration("2-client-counts") { db in
            for statement in Migrations.version2 {
                try db.execute(sql: statement)
            }
            try db.execute(sql: Migrations.upsertMeta, arguments: ["schema_version", "2"])
        }
        migrator.registerMigration("3-leases") { db in
            for statement in Migrations.version3 {
                try db.execute(sql: statement)
            }
            try db.execute(sql: Migrations.upsertMeta, arguments: ["schema_version", "3"])
            try db.execute(sql: Migrations.upsertMeta, arguments: ["min_gateway_version", StoreSchema.minimumGatewayVersion])
        }
        return migrator
    }

    /// The schema statements of each migration.
    enum Migrations {
        /// Sets one `store_meta` value: key, value.
        static let upsertMeta = "INSERT OR REPLACE INTO store_meta (key, value) VALUES (?, ?)"

        /// Schema version 1: every table and index.
        static let version1 = [
            """
            CREATE TABLE store_meta (
                key TEXT PRIMARY KEY NOT NULL,
                value TEXT NOT NULL
            )
            """,
            """
            CREATE TABLE requests (
                id TEXT PRIMARY KEY NOT NULL,
                client TEXT NOT NULL,
                route TEXT NOT NULL,
                idempotency_key TEXT,
                body_digest TEXT NOT NULL,
                member_status TEXT NOT NULL,
                project_id TEXT NOT NULL,
                vault_id TEXT,
                correlation_id TEXT NOT NULL,
                warnings TEXT NOT NULL,
                weight REAL NOT NULL,
                created_at INTEGER NOT NULL,
                deadline INTEGER NOT NULL,
                background_until INTEGER NOT NULL,
                state TEXT NOT NULL,
                event_counter INTEGER NOT NULL,
                updated_at INTEGER NOT NULL,
                finished_at INTEGER,
                elapsed_ms INTEGER
            )
            """,
            """
            CREATE UNIQUE INDEX requests_client_idempotency_key ON requests (client, idempotency_key)
            WHERE idempotency_key IS NOT NULL
            """,
            "CREATE INDEX requests_client_state ON requests (client, state)",
            "CREATE INDEX requests_state_finished_at ON requests (state, finished_at)",
            """
            CREATE TABLE batches (
                request_id TEXT NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
                batch_index INTEGER NOT NULL,
                images TEXT NOT NULL,
                state TEXT NOT NULL,
                job_id TEXT,
                job_status TEXT,
                polls INTEGER NOT NULL,
                submit_attempts INTEGER NOT NULL,
                error_code TEXT,
                fail_reason TEXT,
                begin_time TEXT,
                end_time TEXT,
                results_json TEXT,
                submitted_at INTEGER,
                PRIMARY KEY (request_id, batch_index)
            )
            """,
            """
            CREATE TABLE submit_attempts (
                request_id TEXT NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
                batch_index INTEGER NOT NULL,
                attempt INTEGER NOT NULL,
                started_at INTEGER NOT NULL,
                job_id TEXT,
                PRIMARY KEY (request_id, batch_index, attempt)
            )
            """,
            """
            CREATE TABLE request_events (
                request_id TEXT NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
                id INTEGER NOT NULL,
                kind TEXT NOT NULL,
                data TEXT NOT NULL,
                created_at INTEGER NOT NULL,
                PRIMARY KEY (request_id, id)
            )
            """,
        ]

        /// Schema version 2: `client_counts`, each client's stored and running requests, kept
        /// right by triggers on `requests` in the transaction that changes them, so that an
        /// admission reads two numbers instead of counting the client's rows (which grew with
        /// every stored outcome). Filled from the rows already stored. `requests` rows are
        /// never replaced (`INSERT OR REPLACE` would skip the delete trigger).
        static let version2 = [
            """
            CREATE TABLE client_counts (
                client TEXT PRIMARY KEY NOT NULL,
                stored INTEGER NOT NULL,
                running INTEGER NOT NULL
            ) WITHOUT ROWID
            """,
            """
            INSERT INTO client_counts (client, stored, running)
            SELECT client, COUNT(*), COALESCE(SUM(state = 'running'), 0) FROM requests GROUP BY client
            """,
            """
            CREATE TRIGGER requests_counted_insert AFTER INSERT ON requests BEGIN
                INSERT INTO client_counts (client, stored, running) VALUES (NEW.client, 1, NEW.state = 'running')
                ON CONFLICT (client) DO UPDATE SET stored = stored + 1, running = running + excluded.running;
            END
            """,
            """
            CREATE TRIGGER requests_counted_delete AFTER DELETE ON requests BEGIN
                UPDATE client_counts SET stored = stored - 1, running = running - (OLD.state = 'running')
                WHERE client = OLD.client;
            END
            """,
            """
            CREATE TRIGGER requests_counted_state AFTER UPDATE OF state ON requests
            WHEN OLD.state IS NOT NEW.state AND OLD.client IS NEW.client BEGIN
                UPDATE client_counts SET running = running + (NEW.state = 'running') - (OLD.state = 'running')
                WHERE client = NEW.client;
            END
            """,
            """
            CREATE TRIGGER requests_counted_client AFTER UPDATE OF client ON requests
            WHEN OLD.client IS NOT NEW.client BEGIN
                UPDATE client_counts SET stored = stored - 1, running = running - (OLD.state = 'running')
                WHERE client = OLD.client;
                INSERT INTO client_counts (client, stored, running) VALUES (NEW.client, 1, NEW.state = 'running')
                ON CONFLICT (client) DO UPDATE SET stored = stored + 1, running = running + excluded.running;
            END
            """,
        ]

        /// Schema version 3: the lease columns of the PostgreSQL store (`owner`,
        /// `lease_until`), so that both engines keep the same tables. An SQLite file has one
        /// gateway process (its lock file), so nothing is leased: the columns stay empty.
        static let version3 = [
            "ALTER TABLE requests ADD COLUMN owner TEXT",
            "ALTER TABLE requests ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0",
        ]
    }
}
