import Foundation
import Logging
import NIOSSL
import PostgresNIO
import ServiceLifecycle
import Synchronization
import JSONText

/// The gateway's store on a PostgreSQL database (``GatewayStore``), for gateways that run as
/// several replicas (docs/ARCHITECTURE.md, "Replicas"): the SQLite store's tables and rules,
/// on a PostgresNIO `PostgresClient` connection pool.
///
/// The store is a ServiceLifecycle `Service`: ``run()`` runs the pool and must be running
/// (in the gateway's service group, or a task) before any other call. Every write is one
/// transaction (READ COMMITTED); an admission first takes a transaction-scoped advisory lock
/// on its client, so that replicas admitting the same client's requests at once keep its
/// limits and its `Idempotency-Key`s exact; a write that appends events locks the request's
/// row, so that event ids from its counter never collide. Times are BIGINT milliseconds since
/// the Unix epoch, as in SQLite. Errors name the store as ``PostgresStoreSettings/description``
/// (no password) and never hold SQL, bound values or request data.
public final class PostgresGatewayStore: GatewayStore, Service, CustomStringConvertible, StoreColumnValues {
    /// The server, database and role.
    public let settings: PostgresStoreSettings
    /// The running gateway's version, compared with `store_meta.min_gateway_version`.
    public let gatewayVersion: String
    /// This replica's id (made at start): the owner of the requests it admits or takes over.
    public let replicaID: String
    /// How long a lease lasts from its last renewal, in milliseconds of the database's clock.
    public let leaseMs: Int64

    let client: PostgresClient
    let logger: Logger
    /// How long a call waits for a pooled connection before it fails `.unavailable`.
    let leaseTimeout: Duration
    private let committedWrites = Atomic<Int>(0)
    /// Whether ``run()`` started the pool: calls made before wait for it (within their
    /// ``leaseTimeout``) instead of queueing on a pool that warns it is not running.
    private let poolRunning = Atomic<Bool>(false)

    /// How many write transactions this object committed since it was made, for tests and
    /// benchmarks.
    public var writeTransactions: Int { committedWrites.load(ordering: .relaxed) }

    /// The store as logs and errors name it, without the password.
    public var description: String { settings.description }

    /// Makes the store's connection pool; nothing connects before ``run()`` and a first query.
    /// - Parameters:
    ///   - settings: the server, role, password and TLS mode.
    ///   - gatewayVersion: the running gateway's version (dotted numbers, e.g. `0.5.0`).
    ///   - replicaID: this replica's id, unique among the replicas (a new one at each start).
    ///   - leaseMs: how long, in milliseconds, a lease lasts after it is taken or renewed
    ///     (`store.leaseSeconds`); a replica that stops renewing loses its requests after it.
    ///   - maxConnections: the pool's bound on connections to the server.
    ///   - connectTimeoutMs: how long, in milliseconds, one connection attempt may take.
    ///   - leaseTimeoutMs: how long, in milliseconds, a call waits for a connection of the pool
    ///     (all busy, or the server unreachable) before it fails `.unavailable`.
    ///   - statementTimeoutMs: the server's `statement_timeout` for the pool's sessions, in
    ///     milliseconds: a statement running longer is cancelled (SQLSTATE 57014) and the call
    ///     fails `.unavailable`, so a stuck database never holds a caller past it.
    ///   - lockTimeoutMs: the server's `lock_timeout`, in milliseconds: a statement waiting
    ///     longer for a lock (a row, a client's advisory lock) fails (55P03) `.unavailable`.
    ///   - logger: where the pool's background events and migrations are logged.
    /// - Throws: ``StoreError`` `.failed` when the TLS settings cannot be used (an unreadable
    ///   `sslrootcert` file).
    public init(
        settings: PostgresStoreSettings, gatewayVersion: String, replicaID: String, leaseMs: Int = 30_000,
        maxConnections: Int = 16,
        connectTimeoutMs: Int = 10_000, leaseTimeoutMs: Int = 5_000, statementTimeoutMs: Int = 15_000,
        lockTimeoutMs: Int = 5_000, logger: Logger
    ) throws(StoreError) {
        var configuration = PostgresClient.Configuration(
            host: settings.host, port: settings.port, username: settings.username, password: settings.password,
            database: settings.database, tls: try Self.tls(settings))
        configuration.options.maximumConnections = max(1, maxConnections)
        configuration.options.connectTimeout = .milliseconds(max(1, connectTimeoutMs))
        // Bounds on every statement of the pool, set once per session in its startup packet.
        configuration.options.additionalStartupParameters = [
            ("application_name", "ims-gateway"),
            ("statement_timeout", "\(max(1, statementTimeoutMs))"),
            ("lock_timeout", "\(max(1, lockTimeoutMs))"),
        ]
        self.settings = settings
        self.gatewayVersion = gatewayVersion
        self.replicaID = replicaID
        self.leaseMs = Int64(max(1, leaseMs))
        self.logger = logger
        self.leaseTimeout = .milliseconds(max(1, leaseTimeoutMs))
        self.client = PostgresClient(configuration: configuration, backgroundLogger: logger)
    }

    /// Runs the connection pool until the task is cancelled or a graceful shutdown of the
    /// service group reaches it (ServiceLifecycle `Service`).
    public func run() async throws {
        poolRunning.store(true, ordering: .releasing)
        await client.run()
    }

    /// Nothing to check: a PostgreSQL database has no file to be deleted under the gateway.
    public func checkInPlace() throws(StoreError) {}

    // MARK: - GatewayStore

    /// Admits a request in one transaction, after the client's advisory lock: the stored one
    /// when the client used the same `Idempotency-Key` before (nothing written), a refusal
    /// when the client is at `limits.maxRunning` running or `limits.maxStored` stored
    /// requests, else the request (event counter = `events.count`), its batches, attempts
    /// and events (ids 1...n).
    /// - Throws: ``StoreError`` when the write fails.
    public func admit(
        _ request: RequestRecord, batches: [BatchRecord], attempts: [SubmitAttemptRecord], limits: AdmissionLimits,
        events: [NewEvent]
    ) async throws(StoreError) -> Admission {
        let logger = logger
        let (owner, leaseMs) = (replicaID, leaseMs)
        return try await write("admitting a request") { connection in
            try await connection.query(
                "SELECT pg_advisory_xact_lock(\(Self.admissionLockClass), hashtext(\(request.client)))",
                logger: logger
            ).collect()
            if let key = request.idempotencyKey,
                let id = try await Self.requestID(connection, client: request.client, key: key, logger: logger),
                let snapshot = try await Self.snapshot(connection, id: id, logger: logger)
            {
                return .existing(snapshot)
            }
            let counts = try await Self.counts(connection, client: request.client, logger: logger)
            if counts.running >= limits.maxRunning {
                return .tooManyRunning(limit: limits.maxRunning)
            }
            if counts.stored >= limits.maxStored {
                return .tooManyStored(limit: limits.maxStored)
            }
            var stored = request
            stored.eventCounter = Int64(events.count)
            try await Self.insertRequest(connection, stored, owner: owner, leaseMs: leaseMs, logger: logger)
            for batch in batches {
                try await Self.upsertBatch(connection, requestID: request.id, batch, logger: logger)
            }
            for attempt in attempts {
                try await Self.upsertAttempt(connection, attempt, logger: logger)
            }
            try await Self.insertEvents(connection, requestID: request.id, firstID: 1, events, logger: logger)
            return .admitted
        }
    }

    /// Stores a submit attempt, replaces its batch row and appends `events`, in one transaction,
    /// while the request is running and leased to this replica.
    /// - Throws: ``StoreError`` `.notFound` when the request is not stored; `.leaseLost` when
    ///   it is no longer this replica's; another kind when the write fails.
    public func recordAttempt(_ attempt: SubmitAttemptRecord, batch: BatchRecord, events: [NewEvent])
        async throws(StoreError)
    {
        let logger = logger
        let store = description
        let owner = replicaID
        try await write("recording a submit attempt") { connection in
            guard
                let counter = try await Self.lockEventCounter(
                    connection, requestID: attempt.requestID, owner: owner, logger: logger)
            else { throw Self.notFound(store) }
            try await Self.upsertAttempt(connection, attempt, logger: logger)
            try await Self.upsertBatch(connection, requestID: attempt.requestID, batch, logger: logger)
            try await Self.appendEvents(
                connection, requestID: attempt.requestID, counter: counter, events, logger: logger)
        }
    }

    /// Sets the job id of a submit attempt (storing the attempt, started at the batch's
    /// `submittedAt` or now, when it is missing), replaces the batch row and appends `events`,
    /// in one transaction, whatever the request's state and whichever replica holds its lease
    /// (a submitted job is never forgotten). When the batch row has a job id already (a later
    /// write carried it), only the attempt is updated.
    /// - Throws: ``StoreError`` `.notFound` when the request is not stored; another kind when
    ///   the write fails.
    public func recordJobID(
        _ jobID: String, requestID: String, batchIndex: Int, attempt: Int, batch: BatchRecord, events: [NewEvent]
    ) async throws(StoreError) {
        let logger = logger
        let store = description
        try await write("recording a job id") { connection in
            guard let counter = try await Self.lockEventCounter(connection, requestID: requestID, owner: nil, logger: logger)
            else { throw Self.notFound(store) }
            let started = Self.millis(batch.submittedAt ?? Date())
            try await connection.query(
                """
                INSERT INTO submit_attempts (request_id, batch_index, attempt, started_at, job_id)
                VALUES (\(requestID), \(batchIndex), \(attempt), \(started), \(Self.text(jobID)))
                ON CONFLICT (request_id, batch_index, attempt) DO UPDATE SET job_id = excluded.job_id
                """, logger: logger)
            // A write that comes late (retried while the store was unreachable) never replaces a
            // newer state: a later write already carried the job id.
            let stored = try await connection.query(
                "SELECT job_id FROM batches WHERE request_id = \(requestID) AND batch_index = \(batchIndex)",
                logger: logger
            ).collect().first?.decode(String?.self) ?? nil
            guard stored == nil else { return }
            try await Self.upsertBatch(connection, requestID: requestID, batch, logger: logger)
            try await Self.appendEvents(connection, requestID: requestID, counter: counter, events, logger: logger)
        }
    }

    /// Replaces the given batch rows, applies `change` to the request row (state, `updated_at`,
    /// `finished_at`, and `elapsed_ms`/deadlines when given) and appends `events`, in one
    /// transaction. The request must be running and leased to this replica; a change to
    /// `running` (a repeat resuming a request that gave up, or whose replica is gone) takes the
    /// lease instead, unless another live replica holds it.
    /// - Throws: ``StoreError`` `.notFound` when the request is not stored; `.leaseLost` when
    ///   another replica holds it (or it ended there); another kind when the write fails.
    public func update(
        requestID: String, batches: [BatchRecord], change: RequestChange?, events: [NewEvent]
    ) async throws(StoreError) {
        let logger = logger
        let store = description
        let (owner, leaseMs) = (replicaID, leaseMs)
        let resumes = change?.state == .running
        try await write("updating a request") { connection in
            // A change to running resumes the request here: it takes the lease, unless a live
            // replica holds it. Any other write needs the lease.
            let counter: Int64
            if resumes {
                guard let taken = try await Self.takeLease(
                    connection, requestID: requestID, owner: owner, leaseMs: leaseMs, logger: logger)
                else { throw Self.notFound(store) }
                counter = taken
            } else {
                guard let locked = try await Self.lockEventCounter(
                    connection, requestID: requestID, owner: owner, logger: logger)
                else { throw Self.notFound(store) }
                counter = locked
            }
            for batch in batches {
                try await Self.upsertBatch(connection, requestID: requestID, batch, logger: logger)
            }
            if let change {
                let at = Self.millis(change.at)
                let finished: Int64? = change.state == .running ? nil : at
                let elapsed = change.elapsedMs.map(Int64.init)
                let deadline = change.deadline.map(Self.millis)
                let backgroundUntil = change.backgroundUntil.map(Self.millis)
                let warnings = change.warnings.map(JSONStringArray.encode)
                try await connection.query(
                    """
                    UPDATE requests SET state = \(change.state.rawValue), updated_at = \(at), finished_at = \(finished),
                        elapsed_ms = COALESCE(\(elapsed), elapsed_ms), deadline = COALESCE(\(deadline), deadline),
                        background_until = COALESCE(\(backgroundUntil), background_until),
                        warnings = COALESCE(\(warnings), warnings)
                    WHERE id = \(requestID) RETURNING pg_notify(\(Self.notificationChannel), id)::text
                    """, logger: logger
                ).collect()
            }
            try await Self.appendEvents(connection, requestID: requestID, counter: counter, events, logger: logger)
        }
    }

    /// The request with its batches (index order) and attempts, nil when not stored.
    /// - Throws: ``StoreError`` when the read fails.
    public func request(id: String) async throws(StoreError) -> StoredRequestSnapshot? {
        let logger = logger
        return try await read("reading a request") { connection in
            try await Self.snapshot(connection, id: id, logger: logger)
        }
    }

    /// The request `client` stored under `idempotencyKey`, nil when none.
    /// - Throws: ``StoreError`` when the read fails.
    public func request(client: String, idempotencyKey: String) async throws(StoreError) -> StoredRequestSnapshot? {
        let logger = logger
        return try await read("reading a request by its key") { connection in
            guard let id = try await Self.requestID(connection, client: client, key: idempotencyKey, logger: logger)
            else { return nil }
            return try await Self.snapshot(connection, id: id, logger: logger)
        }
    }

    /// Every request in state `running`, by `created_at` (then id).
    /// - Throws: ``StoreError`` when the read fails.
    public func runningRequests() async throws(StoreError) -> [StoredRequestSnapshot] {
        let logger = logger
        return try await read("reading the running requests") { connection in
            let rows = try await connection.query(
                "SELECT \(unescaped: Self.requestColumns) FROM requests WHERE state = 'running' ORDER BY created_at, id COLLATE \"C\"",
                logger: logger
            ).collect()
            var snapshots: [StoredRequestSnapshot] = []
            for row in rows {
                let request = try Self.requestRecord(row)
                snapshots.append(
                    StoredRequestSnapshot(
                        request: request,
                        batches: try await Self.batches(connection, requestID: request.id, logger: logger),
                        attempts: try await Self.attempts(connection, requestID: request.id, logger: logger)))
            }
            return snapshots
        }
    }

    /// At most `limit` events of the request with an id above `afterID`, in id order; none
    /// when `limit` is not positive.
    /// - Throws: ``StoreError`` when the read fails.
    public func events(requestID: String, afterID: Int64, limit: Int) async throws(StoreError) -> [RequestEvent] {
        guard limit > 0 else { return [] }
        let logger = logger
        return try await read("reading events") { connection in
            var events: [RequestEvent] = []
            let rows = try await connection.query(
                """
                SELECT id, kind, data, created_at FROM request_events
                WHERE request_id = \(requestID) AND id > \(afterID) ORDER BY id LIMIT \(limit)
                """, logger: logger)
            for try await (id, kind, data, created) in rows.decode((Int64, String, String, Int64).self) {
                events.append(
                    RequestEvent(requestID: requestID, id: id, kind: kind, data: data, createdAt: Self.date(created)))
            }
            return events
        }
    }

    /// Deletes, in one transaction, at most `limit` requests not `running` whose `finished_at`
    /// is before `finishedBefore`, oldest first; their batches, attempts and events go with
    /// them (cascade). Rows another transaction holds are skipped (`SKIP LOCKED`): replicas
    /// reaping at once never wait on each other. The `client_counts` rows the deletion
    /// changes are locked first, in client order, so that two reapers whose requests span
    /// the same clients never deadlock on them.
    /// - Returns: how many requests were deleted.
    /// - Throws: ``StoreError`` when the write fails.
    public func deleteFinished(finishedBefore: Date, limit: Int) async throws(StoreError) -> Int {
        guard limit > 0 else { return 0 }
        let logger = logger
        let cut = Self.millis(finishedBefore)
        return try await write("deleting finished requests") { connection in
            var ids: [String] = []
            var clients = Set<String>()
            let rows = try await connection.query(
                """
                SELECT id, client FROM requests WHERE state <> 'running' AND finished_at < \(cut)
                ORDER BY finished_at, id COLLATE "C" LIMIT \(limit) FOR UPDATE SKIP LOCKED
                """, logger: logger)
            for try await (id, client) in rows.decode((String, String).self) {
                ids.append(id)
                clients.insert(client)
            }
            guard !ids.isEmpty else { return 0 }
            _ = try await connection.query(
                """
                SELECT 1 FROM client_counts WHERE client = ANY(\(Array(clients)))
                ORDER BY client COLLATE "C" FOR UPDATE
                """, logger: logger
            ).collect()
            return try await connection.query(
                "DELETE FROM requests WHERE id = ANY(\(ids)) RETURNING id", logger: logger
            ).collect().count
        }
    }

    /// How many requests `client` has stored, and how many of them are `running`.
    /// - Throws: ``StoreError`` when the read fails.
    public func counts(client: String) async throws(StoreError) -> ClientRequestCounts {
        let logger = logger
        return try await read("counting requests") { connection in
            try await Self.counts(connection, client: client, logger: logger)
        }
    }

    // MARK: - Access

    /// The first key of the advisory locks admissions take, one per client (`hashtext` of the
    /// client name as the second key). ASCII "IMSG".
    public static let admissionLockClass: Int32 = 0x494D_5347

    /// Runs `body` in one transaction on a pooled connection and, when `counted`, counts it in
    /// ``writeTransactions`` once committed; maps every error through ``storeError(_:operation:)``.
    func write<T: Sendable>(
        _ operation: String, counted: Bool = true, _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws(StoreError) -> T {
        let logger = logger
        do {
            let value = try await leased { connection in
                try await connection.withTransaction(logger: logger) { connection in try await body(connection) }
            }
            if counted { committedWrites.add(1, ordering: .relaxed) }
            return value
        } catch {
            throw storeError(error, operation: operation)
        }
    }

    /// Runs `body` on a pooled connection outside a transaction: each of its statements
    /// commits by itself (one round trip each, for statements atomic on their own); maps every
    /// error through ``storeError(_:operation:)``.
    func autocommit<T: Sendable>(
        _ operation: String, _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws(StoreError) -> T {
        do {
            return try await leased { connection in try await body(connection) }
        } catch {
            throw storeError(error, operation: operation)
        }
    }

    /// Runs `body` in one `REPEATABLE READ READ ONLY` transaction on a pooled connection, so
    /// that its statements (a request, then its batches, then its attempts) read one snapshot
    /// even while another replica writes; maps every error.
    func read<T: Sendable>(
        _ operation: String, _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws(StoreError) -> T {
        let logger = logger
        do {
            return try await leased { connection in
                try await connection.withTransaction(logger: logger) { connection in
                    try await connection.query(
                        "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY", logger: logger)
                    return try await body(connection)
                }
            }
        } catch {
            throw storeError(error, operation: operation)
        }
    }

    /// Runs `body` on a connection of the pool, waiting at most ``leaseTimeout`` for one (the
    /// pool itself waits as long as the server stays unreachable). Once `body` has its
    /// connection it runs to its end: a transaction is never cut by this bound. The two
    /// children race on one atomic state: `body` starts only when it moves the state from
    /// waiting to started, the timer fails the call only when it moves it from waiting to
    /// timed out, so a call that failed with `LeaseTimeout` never ran `body` (and never wrote).
    /// - Throws: `LeaseTimeout` when no connection came in time, or what `body` throws.
    private func leased<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        let client = client
        let leaseTimeout = leaseTimeout
        let race = LeaseRace()
        return try await withThrowingTaskGroup(of: LeaseOutcome<T>.self) { group in
            group.addTask {
                while !self.poolRunning.load(ordering: .acquiring) { try await Task.sleep(for: .milliseconds(2)) }
                return .value(try await client.withConnection { connection in
                    guard race.claim(LeaseRace.started) else { throw LeaseTimeout() }
                    return try await body(connection)
                })
            }
            group.addTask {
                do {
                    try await Task.sleep(for: leaseTimeout)
                } catch {
                    return .timerPassed
                }
                if race.claim(LeaseRace.timedOut) { throw LeaseTimeout() }
                return .timerPassed
            }
            while let outcome = try await group.next() {
                if case .value(let value) = outcome {
                    group.cancelAll()
                    return value
                }
            }
            throw CancellationError()
        }
    }

    /// What a child of ``leased(_:)`` ended with.
    private enum LeaseOutcome<T: Sendable>: Sendable {
        case value(T)
        case timerPassed
    }

    /// The one state the two children of ``leased(_:)`` race on: waiting (0), then started
    /// or timed out, whichever comes first, for good.
    private final class LeaseRace: Sendable {
        static let started: UInt8 = 1
        static let timedOut: UInt8 = 2
        private let state = Atomic<UInt8>(0)

        /// Moves the state from waiting to `outcome`; false when the other child won.
        func claim(_ outcome: UInt8) -> Bool {
            state.compareExchange(expected: 0, desired: outcome, ordering: .acquiringAndReleasing).exchanged
        }
    }

    /// No pooled connection within ``leaseTimeout``.
    struct LeaseTimeout: Error {}

    /// The one map from any error of PostgresNIO, the server or this module to a
    /// ``StoreError`` naming the store; only the server's SQLSTATE and its message are kept
    /// (never the query, its bound values or the password).
    func storeError(_ error: any Error, operation: String) -> StoreError {
        if let error = error as? StoreError { return error }
        if let transaction = error as? PostgresTransactionError {
            if let inner = transaction.closureError ?? transaction.beginError ?? transaction.commitError {
                return storeError(inner, operation: operation)
            }
            return StoreError(.failed, "the store \(description): \(operation) failed (transaction)")
        }
        if error is CancellationError {
            return StoreError(.unavailable, "the store \(description): \(operation) was cancelled")
        }
        if error is LeaseTimeout {
            return StoreError(
                .unavailable,
                "the store \(description) is unavailable (\(operation): no connection within "
                    + "\(leaseTimeout.components.seconds) s; is the server up and reachable?)")
        }
        guard let error = error as? PSQLError else {
            // The pool's own errors (closed, shut down, a lease timed out) come from an
            // underscored module of PostgresNIO: known by their type's name.
            if String(describing: type(of: error)) == "ConnectionPoolError" {
                return StoreError(
                    .unavailable, "the store \(description) is unavailable (\(operation): the connection pool is closed)")
            }
            if error is PostgresDecodingError || error is DecodingError {
                return StoreError(
                    .corrupt, "the store \(description) holds a row that cannot be read (\(operation))")
            }
            return StoreError(.failed, "the store \(description): \(operation) failed (\(type(of: error)))")
        }
        guard error.code == .server, let state = error.serverInfo?[.sqlState] else {
            // Connection refused or lost, TLS, a closed pool, a timeout: nothing from the server.
            return StoreError(
                .unavailable, "the store \(description) is unavailable (\(operation): \(Self.clientReason(error)))")
        }
        let message = error.serverInfo?[.message] ?? "no message"
        let server = "PostgreSQL \(state): \(message)"
        if state == "55P03" {
            // lock_not_available: lock_timeout passed while another transaction held the lock.
            return StoreError(.unavailable, "the store \(description) is unavailable (\(operation): \(server))")
        }
        switch state.prefix(2) {
        case "08", "57", "53", "40":
            // Connection, operator intervention (shutdown), insufficient resources, rollback
            // (serialization, deadlock): worth retrying.
            return StoreError(.unavailable, "the store \(description) is unavailable (\(operation): \(server))")
        case "28":
            return StoreError(
                .failed,
                "the store \(description) refused the login (\(operation): \(server)); "
                    + "check the user and IMSGW_STORE_PASSWORD or IMSGW_STORE_PASSWORD_FILE")
        case "42":
            return StoreError(
                .incompatible,
                "the store \(description) lacks what this gateway needs (\(operation): \(server)); "
                    + "run ims-gateway migrate, or check the database's permissions")
        default:
            return StoreError(.failed, "the store \(description): \(operation) failed (\(server))")
        }
    }

    /// A short reason for an error that did not come from the server.
    private static func clientReason(_ error: PSQLError) -> String {
        switch error.code {
        case .connectionError: "cannot connect"
        case .serverClosedConnection: "the server closed the connection"
        case .clientClosedConnection, .poolClosed: "the connection pool is closed"
        case .sslUnsupported: "the server does not offer TLS"
        case .failedToAddSSLHandler: "TLS could not be set up"
        default: "\(error.code)"
        }
    }

    /// The error of a write that names a request the store does not hold (no id in it).
    static func notFound(_ store: String) -> StoreError {
        StoreError(.notFound, "the store \(store) holds no such request")
    }

    /// The pool's TLS settings for `settings.tlsMode`.
    /// - Throws: ``StoreError`` `.failed` when `sslrootcert` cannot be read.
    static func tls(_ settings: PostgresStoreSettings) throws(StoreError) -> PostgresClient.Configuration.TLS {
        guard let tls = try tlsConfiguration(settings) else { return .disable }
        return settings.tlsMode == .prefer ? .prefer(tls) : .require(tls)
    }

    /// The TLS client configuration of libpq's `sslmode` (certificate checks as its
    /// `verify-ca` and `verify-full`; none for `prefer` and `require`), nil for `disable`.
    /// - Throws: ``StoreError`` `.failed` when `sslrootcert` cannot be read.
    static func tlsConfiguration(_ settings: PostgresStoreSettings) throws(StoreError) -> TLSConfiguration? {
        var tls = TLSConfiguration.makeClientConfiguration()
        switch settings.tlsMode {
        case .disable: return nil
        case .prefer, .require: tls.certificateVerification = .none
        case .verifyCA: tls.certificateVerification = .noHostnameVerification
        case .verifyFull: tls.certificateVerification = .fullVerification
        }
        if let path = settings.rootCertificatePath {
            guard FileManager.default.isReadableFile(atPath: path) else {
                throw StoreError(.failed, "store.url: cannot read the sslrootcert file \(path)")
            }
            tls.trustRoots = .file(path)
        }
        return tls
    }
}
