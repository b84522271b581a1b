import Foundation
import Logging
import PostgresNIO

extension PostgresGatewayStore {
    /// Brings the schema up to ``StoreSchema/version`` in one transaction that first takes
    /// `pg_advisory_xact_lock(` ``migrationLockKey`` `)`: replicas starting at once migrate
    /// once, the others wait for the lock and then find the schema current. Each numbered
    /// step of ``PostgresMigrations/steps`` runs once, recorded in `store_meta` (the SQLite
    /// store's steps, in PostgreSQL's words, side by side).
    /// - Throws: ``StoreError`` `.incompatible` when a newer gateway migrated the store beyond
    ///   this build's schema, or its `min_gateway_version` is above ``gatewayVersion``
    ///   (nothing is changed then); `.unavailable` when the server cannot be reached; another
    ///   kind when a step fails (the transaction rolls back whole).
    public func migrate() async throws(StoreError) {
        let store = description
        let gatewayVersion = gatewayVersion
        let logger = logger
        let from: Int? = try await write("migrating", counted: false) { connection in
            // Another replica's migration may take longer than `lock_timeout` (5 s) and
            // `statement_timeout` (15 s): wait up to ``migrationLockWaitSeconds`` for it, then
            // go back to the usual limits for the steps (a step must not queue long behind
            // running traffic).
            for setting in ["lock_timeout", "statement_timeout"] {
                try await connection.query(
                    PostgresQuery(unsafeSQL: "SET LOCAL \(setting) = '\(Self.migrationLockWaitSeconds)s'"), logger: logger)
            }
            try await connection.query(
                "SELECT pg_advisory_xact_lock(\(Self.migrationLockKey))", logger: logger
            ).collect()
            try await connection.query("SET LOCAL lock_timeout TO DEFAULT", logger: logger)
            try await connection.query("SET LOCAL statement_timeout TO DEFAULT", logger: logger)
            let stored = try await Self.readMeta(connection, logger: logger)
            if let version = stored.schemaVersion {
                try StoreSchema.checkCompatible(
                    store: store, storedSchemaVersion: version,
                    minimumGatewayVersion: stored.minimumGatewayVersion ?? StoreSchema.minimumGatewayVersion,
                    gatewayVersion: gatewayVersion)
            }
            let current = stored.schemaVersion ?? 0
            for (index, step) in PostgresMigrations.steps.enumerated() where index + 1 > current {
                for statement in step {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query(
                    """
                    INSERT INTO store_meta (key, value) VALUES ('schema_version', \(String(index + 1)))
                    ON CONFLICT (key) DO UPDATE SET value = excluded.value
                    """, logger: logger)
            }
            // Steps applied: the store now needs this build's oldest compatible gateway.
            if stored.minimumGatewayVersion == nil || current < StoreSchema.version {
                try await connection.query(
                    """
                    INSERT INTO store_meta (key, value) VALUES ('min_gateway_version', \(StoreSchema.minimumGatewayVersion))
                    ON CONFLICT (key) DO UPDATE SET value = excluded.value
                    """, logger: logger)
            }
            return stored.schemaVersion
        }
        if from != StoreSchema.version {
            logger.info(
                "store migrated",
                metadata: [
                    "store.url": "\(store)", "store.schema_from": "\(from.map(String.init) ?? "none")",
                    "store.schema_to": "\(StoreSchema.version)",
                ])
        }
    }

    /// Checks, without changing anything, that this gateway can work on the store as it is:
    /// migrated to exactly ``StoreSchema/version`` and asking for no newer gateway.
    /// - Throws: ``StoreError`` `.incompatible` when the store was never migrated or is at an
    ///   older schema (run `ims-gateway migrate`), or needs a newer gateway; another kind
    ///   when it cannot be read.
    public func checkSchema() async throws(StoreError) {
        let stored = try await storedVersions()
        guard let version = stored.schemaVersion else {
            throw StoreError(
                .incompatible,
                "the store \(description) has no schema yet (this gateway \(gatewayVersion) needs schema version "
                    + "\(StoreSchema.version)); run ims-gateway migrate")
        }
        try StoreSchema.checkCompatible(
            store: description, storedSchemaVersion: version,
            minimumGatewayVersion: stored.minimumGatewayVersion ?? StoreSchema.minimumGatewayVersion,
            gatewayVersion: gatewayVersion)
        if version < StoreSchema.version {
            throw StoreError(
                .incompatible,
                "the store \(description) is at schema version \(version), this gateway \(gatewayVersion) needs "
                    + "\(StoreSchema.version); run ims-gateway migrate")
        }
    }

    /// `schema_version` and `min_gateway_version` as stored in `store_meta`; both nil on a
    /// database never migrated.
    /// - Throws: ``StoreError`` when the store cannot be read, `.corrupt` when the version is
    ///   not a number.
    public func storedVersions() async throws(StoreError) -> (schemaVersion: Int?, minimumGatewayVersion: String?) {
        let logger = logger
        let meta = try await read("reading the schema version") { connection in
            let stored = try await Self.readMeta(connection, logger: logger)
            return StoredMeta(schemaVersion: stored.schemaVersion, minimumGatewayVersion: stored.minimumGatewayVersion)
        }
        return (meta.schemaVersion, meta.minimumGatewayVersion)
    }

    /// How long a migration waits for another replica's (seconds), beyond which it fails as
    /// `.unavailable`.
    static let migrationLockWaitSeconds = 120

    /// The key of the advisory lock migrations hold (one `bigint`: the two-`int4` keys that
    /// admissions take per client are another key space). ASCII "IMSGWMIG".
    static let migrationLockKey: Int64 = 0x494D_5347_574D_4947

    /// `store_meta` values, Sendable across the connection closure.
    struct StoredMeta: Sendable {
        var schemaVersion: Int?
        var minimumGatewayVersion: String?
    }

    /// `schema_version` and `min_gateway_version`, nil when `store_meta` or the key is missing.
    /// - Throws: a PostgresNIO error, or ``StoreError`` `.corrupt` when the version is not a number.
    static func readMeta(_ connection: PostgresConnection, logger: Logger) async throws -> StoredMeta {
        let exists = try await connection.query(
            "SELECT to_regclass('store_meta') IS NOT NULL", logger: logger
        ).collect().first?.decode(Bool.self) ?? false
        guard exists else { return StoredMeta() }
        var meta = StoredMeta()
        let rows = try await connection.query(
            "SELECT key, value FROM store_meta WHERE key IN ('schema_version', 'min_gateway_version')", logger: logger)
        for try await (key, value) in rows.decode((String, String).self) {
            if key == "schema_version" {
                guard let number = Int(value) else {
                    throw StoreError(.corrupt, "the store's store_meta.schema_version is not a number")
                }
                meta.schemaVersion = number
            } else {
                meta.minimumGatewayVersion = value
            }
        }
        return meta
    }
}

/// The schema of the PostgreSQL store: the SQLite store's tables, columns and meaning
/// (``SQLiteGatewayStore``'s migrations), in PostgreSQL types. Times are BIGINT
/// milliseconds since the Unix epoch, as in SQLite.
enum PostgresMigrations {
    /// Step n (from 1) brings the schema to version n.
    static let steps: [[String]] = [version1, version2, version3]

    /// Schema version 1: every table and index.
    static let version1 = [
        """
        CREATE TABLE store_meta (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        )
        """,
        """
        CREATE TABLE requests (
            id TEXT PRIMARY KEY,
            client TEXT NOT NULL,
            route TEXT NOT NULL,
            idempotency_key TEXT,
            body_digest TEXT NOT NULL,
            member_status TEXT NOT NULL,
            project_id TEXT NOT NULL,
            vault_id TEXT,
            correlation_id TEXT NOT NULL,
            warnings TEXT NOT NULL,
            weight DOUBLE PRECISION NOT NULL,
            created_at BIGINT NOT NULL,
            deadline BIGINT NOT NULL,
            background_until BIGINT NOT NULL,
            state TEXT NOT NULL,
            event_counter BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            finished_at BIGINT,
            elapsed_ms BIGINT
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
            submitted_at BIGINT,
            PRIMARY KEY (request_id, batch_index)
        )
        """,
        """
        CREATE TABLE submit_attempts (
            request_id TEXT NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
            batch_index INTEGER NOT NULL,
            attempt INTEGER NOT NULL,
            started_at BIGINT NOT NULL,
            job_id TEXT,
            PRIMARY KEY (request_id, batch_index, attempt)
        )
        """,
        """
        CREATE TABLE request_events (
            request_id TEXT NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
            id BIGINT NOT NULL,
            kind TEXT NOT NULL,
            data TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            PRIMARY KEY (request_id, id)
        )
        """,
    ]

    /// Schema version 2: `client_counts`, each client's stored and running requests, kept
    /// right by a trigger on `requests` in the transaction that changes them (as in SQLite).
    static let version2 = [
        """
        CREATE TABLE client_counts (
            client TEXT PRIMARY KEY,
            stored BIGINT NOT NULL,
            running BIGINT NOT NULL
        )
        """,
        """
        INSERT INTO client_counts (client, stored, running)
        SELECT client, COUNT(*), COUNT(*) FILTER (WHERE state = 'running') FROM requests GROUP BY client
        """,
        """
        CREATE FUNCTION gateway_count_requests() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'UPDATE' OR TG_OP = 'DELETE' THEN
                UPDATE client_counts
                SET stored = stored - 1, running = running - CASE WHEN OLD.state = 'running' THEN 1 ELSE 0 END
                WHERE client = OLD.client;
            END IF;
            IF TG_OP = 'UPDATE' OR TG_OP = 'INSERT' THEN
                INSERT INTO client_counts AS c (client, stored, running)
                VALUES (NEW.client, 1, CASE WHEN NEW.state = 'running' THEN 1 ELSE 0 END)
                ON CONFLICT (client) DO UPDATE SET stored = c.stored + 1, running = c.running + excluded.running;
            END IF;
            RETURN NULL;
        END
        $$
        """,
        """
        CREATE TRIGGER requests_counted AFTER INSERT OR DELETE OR UPDATE OF state, client ON requests
        FOR EACH ROW EXECUTE FUNCTION gateway_count_requests()
        """,
    ]

    /// Schema version 3: leases (docs/ARCHITECTURE.md, "Replicas"): each running request's
    /// `owner` (a replica id) and `lease_until` (milliseconds of the database's clock; 0 for
    /// rows of earlier versions, which the first replica to claim takes over). The count
    /// trigger now fires only when a row's state or client really changes, so that writes
    /// that rewrite the same state (and lease renewals) never touch `client_counts`.
    /// Shared budgets (docs/ARCHITECTURE.md, "Shared budgets"): `token_buckets` (one row per
    /// bucket: tokens held at `updated_ms`, no token before `paused_until_ms`, both on the
    /// database's clock) and `replicas` (each replica's last heartbeat).
    static let version3 = [
        """
        CREATE TABLE token_buckets (
            name TEXT PRIMARY KEY,
            tokens DOUBLE PRECISION NOT NULL,
            updated_ms BIGINT NOT NULL,
            paused_until_ms BIGINT NOT NULL DEFAULT 0
        )
        """,
        "CREATE TABLE replicas (id TEXT PRIMARY KEY, seen_ms BIGINT NOT NULL)",
        "ALTER TABLE requests ADD COLUMN owner TEXT",
        "ALTER TABLE requests ADD COLUMN lease_until BIGINT NOT NULL DEFAULT 0",
        "CREATE INDEX requests_running_lease ON requests (lease_until) WHERE state = 'running'",
        "CREATE INDEX requests_running_owner ON requests (owner) WHERE state = 'running'",
        "DROP TRIGGER requests_counted ON requests",
        """
        CREATE TRIGGER requests_counted AFTER INSERT OR DELETE ON requests
        FOR EACH ROW EXECUTE FUNCTION gateway_count_requests()
        """,
        """
        CREATE TRIGGER requests_recounted AFTER UPDATE OF state, client ON requests
        FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state OR OLD.client IS DISTINCT FROM NEW.client)
        EXECUTE FUNCTION gateway_count_requests()
        """,
    ]
}
