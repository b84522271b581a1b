#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import GRDB
import JSONText
import Logging
import Synchronization

/// The gateway's store on one SQLite file (``GatewayStore``): a GRDB `DatabasePool` in WAL mode
/// with `synchronous=NORMAL`, foreign keys on and a busy timeout, guarded by an exclusive
/// `flock` on `<path>.lock` so that only one gateway process uses the file.
///
/// Every write is atomic on its own: the writes that wait for the writer connection share one
/// IMMEDIATE transaction, each in a savepoint (group commit, ``GroupCommitWriter``), run on a
/// dispatch queue of their own (no Swift concurrency thread waits on SQLite). Times are stored as INTEGER milliseconds since the Unix epoch.
/// Error messages name the file and never hold request data or SQL parameter values.
public final class SQLiteGatewayStore: GatewayStore, StoreColumnValues {
    /// The newest schema version this build knows (and migrates to): ``StoreSchema/version``.
    public static let schemaVersion = StoreSchema.version
    /// The oldest gateway version that can work on a store at ``schemaVersion``; written to
    /// `store_meta.min_gateway_version` by the migrations: ``StoreSchema/minimumGatewayVersion``.
    public static let minimumGatewayVersion = StoreSchema.minimumGatewayVersion

    /// The database file.
    public let path: String
    /// The running gateway's version, compared with `store_meta.min_gateway_version`.
    public let gatewayVersion: String

    let pool: DatabasePool
    private let writer: GroupCommitWriter
    private let lock: StoreLockFile
    /// The flock on the database file itself.
    private let fileLock: StoreLockFile
    let logger: Logger
    private let committedWrites = Atomic<Int>(0)
    private let closed = Atomic<Bool>(false)

    /// How many writes this object committed since it was opened (each protocol write is one
    /// transaction of its own, atomic by itself, though several may share one SQLite commit),
    /// for tests and benchmarks.
    public var writeTransactions: Int { committedWrites.load(ordering: .relaxed) }

    /// How many SQLite transactions carried those writes (group commit: at most
    /// ``writeTransactions``), for benchmarks.
    public var commits: Int { writer.commits }

    /// Whether a group of writes is being committed, and the writes waiting behind it, for tests.
    var writesWaiting: (committing: Bool, writes: Int) { writer.waiting }

    /// Opens (creating if needed) the store at `path`, after taking the lock file
    /// `<path>.lock` (held until ``close()`` or until the object goes). Reads the schema once,
    /// so a file that is not a database fails here. Does not migrate: see ``migrate()``.
    /// - Parameters:
    ///   - path: the SQLite file.
    ///   - gatewayVersion: the running gateway's version (dotted numbers, e.g. `0.4.0`).
    ///   - busyTimeoutMs: how long, in milliseconds, a statement waits for a lock held by
    ///     another connection before it fails.
    ///   - logger: where opening and migrating are logged.
    /// - Throws: ``StoreError`` `.locked` when another process (or another open store object)
    ///   holds the lock file; `.corrupt` when the file is not a database or is damaged;
    ///   `.unwritable` when the file or its folder cannot be created or written;
    ///   `.unavailable` when SQLite stays busy; `.failed` otherwise.
    public init(path: String, gatewayVersion: String, busyTimeoutMs: Int = 5000, logger: Logger) throws(StoreError) {
        let lock = try StoreLockFile(lockPath: path + ".lock", storePath: path)
        // The database file itself is locked too: deleting the lock file (a stale-lock clean-up)
        // must not let a second process in. SQLite's own locks are POSIX record locks, which a
        // flock does not touch.
        // A new store file is readable by its owner only (it holds client names, projects and
        // image ids; SQLite gives its -wal and -shm files the same mode). An existing file
        // keeps the mode its operator gave it.
        let created = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        if created >= 0 { closeDescriptor(created) }
        let fileLock: StoreLockFile
        do throws(StoreError) {
            fileLock = try StoreLockFile(lockPath: path, storePath: path)
        } catch {
            lock.release()
            throw error
        }
        var configuration = Configuration()
        configuration.foreignKeysEnabled = true
        configuration.busyMode = .timeout(Double(max(0, busyTimeoutMs)) / 1000)
        configuration.label = "ims-gateway store"
        configuration.prepareDatabase { db in
            if !db.configuration.readonly {
                // Before GRDB turns WAL on: a new file gets small pages, an existing one keeps its own.
                try db.execute(sql: Statements.pageSize)
                try db.execute(sql: Statements.synchronousNormal)
            }
            try db.execute(sql: Statements.foreignKeysOn)
        }
        let pool: DatabasePool
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
            _ = try pool.read { db in try Self.readMeta(db) }
        } catch {
            fileLock.release()
            lock.release()
            throw Self.storeError(error, file: path, operation: "opening")
        }
        self.path = path
        self.gatewayVersion = gatewayVersion
        self.pool = pool
        self.writer = GroupCommitWriter(pool: pool)
        self.lock = lock
        self.fileLock = fileLock
        self.logger = logger
        logger.debug("store opened", metadata: ["store.path": "\(path)"])
    }

    deinit {
        if !closed.exchange(true, ordering: .acquiringAndReleasing) {
            try? pool.close()
            fileLock.release()
            lock.release()
        }
    }

    /// Throws when the database file was deleted or replaced while the store was open: SQLite
    /// would go on writing to the deleted file, and a restart would find nothing.
    /// - Throws: ``StoreError`` `.unavailable`, naming the file.
    public func checkInPlace() throws(StoreError) {
        guard fileLock.isInPlace() else {
            throw StoreError(
                .unavailable,
                "the store \(path) was deleted or replaced while the gateway ran; restart the gateway (on the right file)")
        }
    }

    /// Moves everything from the WAL into the database file (a TRUNCATE checkpoint), closes the
    /// database connections, then releases the lock file: a stopped store is one file. Later
    /// calls fail. Does nothing the second time.
    /// - Throws: ``StoreError`` when SQLite cannot close (the lock is released anyway).
    public func close() throws(StoreError) {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        defer {
            fileLock.release()
            lock.release()
        }
        do {
            // Best effort: a reader still open keeps part of the WAL, which SQLite replays at
            // the next open.
            try? pool.writeWithoutTransaction { db in try db.checkpoint(.truncate) }
            try pool.close()
        } catch {
            throw Self.storeError(error, file: path, operation: "closing")
        }
    }

    // MARK: - Backup

    /// Copies the whole store, online (writes may go on), into a new SQLite file with
    /// SQLite's backup API. The copy is a consistent snapshot and opens as a store.
    /// - Parameter destination: the new file; it must not exist.
    /// - Throws: ``StoreError`` `.failed` when `destination` exists already (it is left
    ///   alone); `.unwritable` when it cannot be created; another kind when the copy fails
    ///   (the partial copy is removed).
    public func backup(to destination: String) throws(StoreError) {
        try Self.createBackupFile(destination, store: path)
        do {
            let copy = try DatabaseQueue(path: destination)
            try pool.backup(to: copy)
            try copy.close()
        } catch {
            try? FileManager.default.removeItem(atPath: destination)
            throw Self.storeError(error, file: destination, operation: "backing up \(path)")
        }
        logger.info("store backed up", metadata: ["store.path": "\(path)", "store.backup": "\(destination)"])
    }

    // MARK: - GatewayStore

    /// Admits a request in one IMMEDIATE transaction: the stored one when the client used the
    /// same `Idempotency-Key` before (nothing written), a refusal when the client is at
    /// `limits.maxRunning` running or `limits.maxStored` stored requests, else the request
    /// (event counter = `events.count`), its batches, attempts and events (ids 1...n).
    /// - Throws: ``StoreError`` when the write fails.
    public func admit(
        _ request: RequestRecord, batches: [BatchRecord], attempts: [SubmitAttemptRecord], limits: AdmissionLimits,
        events: [NewEvent]
    ) async throws(StoreError) -> Admission {
        try await write("admitting a request") { db in
            if let key = request.idempotencyKey,
                let id = try String.fetchOne(
                    db.cachedStatement(sql: Statements.selectRequestIDByKey), arguments: [request.client, key]),
                let snapshot = try Self.snapshot(db, id: id)
            {
                return .existing(snapshot)
            }
            let counts = try Self.counts(db, client: request.client)
            if counts.running >= limits.maxRunning {
                return .tooManyRunning(limit: limits.maxRunning)
            }
            if counts.stored >= limits.maxStored {
                return .tooManyStored(limit: limits.maxStored)
            }
            var stored = request
            stored.eventCounter = Int64(events.count)
            try Self.insertRequest(db, stored)
            for batch in batches {
                try Self.replaceBatch(db, requestID: request.id, batch)
            }
            for attempt in attempts {
                try Self.replaceAttempt(db, attempt)
            }
            try Self.insertEvents(db, requestID: request.id, firstID: 1, events)
            return .admitted
        }
    }

    /// Stores a submit attempt, replaces its batch row and appends `events`, in one transaction.
    /// - Throws: ``StoreError`` `.notFound` when the request is not stored; another kind when
    ///   the write fails.
    public func recordAttempt(_ attempt: SubmitAttemptRecord, batch: BatchRecord, events: [NewEvent])
        async throws(StoreError)
    {
        let path = self.path
        try await write("recording a submit attempt") { db in
            // First: no row is written for a request the store does not hold.
            try Self.appendEvents(db, requestID: attempt.requestID, path: path, events)
            try Self.replaceAttempt(db, attempt)
            try Self.replaceBatch(db, requestID: attempt.requestID, batch)
        }
    }

    /// Sets the job id of a submit attempt (storing the attempt, started at the batch's
    /// `submittedAt` or now, when it is missing), replaces the batch row and appends `events`,
    /// in one transaction, whatever the request's state. When the batch row has a job id
    /// already (a later write carried it), only the attempt is updated.
    /// - Throws: ``StoreError`` `.notFound` when the request is not stored; another kind when
    ///   the write fails.
    public func recordJobID(
        _ jobID: String, requestID: String, batchIndex: Int, attempt: Int, batch: BatchRecord, events: [NewEvent]
    ) async throws(StoreError) {
        let path = self.path
        try await write("recording a job id") { db in
            guard let row = try db.run(
                Statements.selectEventCounterAndJobID, [.integer(Int64(batchIndex)), .text(requestID)])
            else { throw Self.notFound(path: path) }
            let counter = try Self.counter(row)
            try db.run(Statements.updateAttemptJobID, [
                .text(Self.text(jobID)), .text(requestID), .integer(Int64(batchIndex)), .integer(Int64(attempt)),
            ])
            if db.changesCount == 0 {
                let started = batch.submittedAt ?? Date()
                try Self.replaceAttempt(
                    db,
                    SubmitAttemptRecord(
                        requestID: requestID, batchIndex: batchIndex, attempt: attempt, startedAt: started, jobID: jobID))
            }
            // A write that comes late (retried while the store was unreachable) never replaces a
            // newer state: a later write already carried the job id.
            guard row.text(1) == nil else { return }
            try Self.replaceBatch(db, requestID: requestID, batch)
            guard !events.isEmpty else { return }
            try Self.insertEvents(db, requestID: requestID, firstID: counter + 1, events)
            try db.run(Statements.addToEventCounter, [.integer(Int64(events.count)), .text(requestID)])
        }
    }

    /// Replaces the given batch rows, applies `change` to the request row (state, `updated_at`,
    /// `finished_at`, and `elapsed_ms`/deadlines when given) and appends `events`, in one transaction.
    /// - Throws: ``StoreError`` `.notFound` when the request is not stored; another kind when
    ///   the write fails.
    public func update(
        requestID: String, batches: [BatchRecord], change: RequestChange?, events: [NewEvent]
    ) async throws(StoreError) {
        let path = self.path
        try await write("updating a request") { db in
            // First, with the event counter: no row is written for a request the store does not hold.
            if let change {
                let at = Self.millis(change.at)
                guard let row = try db.run(Statements.updateRequestStateAndCounter, [
                    .text(change.state.rawValue), .integer(at), .integer(change.state == .running ? nil : at),
                    .integer(change.elapsedMs), .integer(change.deadline.map(Self.millis)),
                    .integer(change.backgroundUntil.map(Self.millis)), .text(change.warnings.map(Self.jsonArray)),
                    .integer(Int64(events.count)), .text(requestID),
                ])
                else { throw Self.notFound(path: path) }
                let counter = try Self.counter(row)
                try Self.insertEvents(db, requestID: requestID, firstID: counter - Int64(events.count) + 1, events)
            } else {
                try Self.appendEvents(db, requestID: requestID, path: path, events)
            }
            for batch in batches {
                try Self.replaceBatch(db, requestID: requestID, batch)
            }
        }
    }

    /// The request with its batches (index order) and attempts, nil when not stored.
    /// - Throws: ``StoreError`` when the read fails.
    public func request(id: String) async throws(StoreError) -> StoredRequestSnapshot? {
        try await read("reading a request") { db in try Self.snapshot(db, id: id) }
    }

    /// The request `client` stored under `idempotencyKey`, nil when none.
    /// - Throws: ``StoreError`` when the read fails.
    public func request(client: String, idempotencyKey: String) async throws(StoreError) -> StoredRequestSnapshot? {
        try await read("reading a request by its key") { db in
            guard let id = try String.fetchOne(
                db.cachedStatement(sql: Statements.selectRequestIDByKey), arguments: [client, idempotencyKey])
            else { return nil }
            return try Self.snapshot(db, id: id)
        }
    }

    /// Every request in state `running`, by `created_at` (then id).
    /// - Throws: ``StoreError`` when the read fails.
    public func runningRequests() async throws(StoreError) -> [StoredRequestSnapshot] {
        try await read("reading the running requests") { db in
            let rows = try Row.fetchAll(db.cachedStatement(sql: Statements.selectRunningRequests))
            return try rows.map { row in
                let request = try Self.requestRecord(row)
                return StoredRequestSnapshot(
                    request: request, batches: try Self.batches(db, requestID: request.id),
                    attempts: try Self.attempts(db, requestID: request.id))
            }
        }
    }

    /// At most `limit` events of the request with an id above `afterID`, in id order; none
    /// when `limit` is not positive.
    /// - Throws: ``StoreError`` when the read fails.
    public func events(requestID: String, afterID: Int64, limit: Int) async throws(StoreError) -> [RequestEvent] {
        guard limit > 0 else { return [] }
        return try await read("reading events") { db in
            try Row.fetchAll(
                db.cachedStatement(sql: Statements.selectEvents), arguments: [requestID, afterID, limit]).map { row in
                RequestEvent(
                    requestID: try row.decode(String.self, forColumn: "request_id"),
                    id: try row.decode(Int64.self, forColumn: "id"),
                    kind: try row.decode(String.self, forColumn: "kind"),
                    data: try row.decode(String.self, forColumn: "data"),
                    createdAt: Self.date(try row.decode(Int64.self, forColumn: "created_at")))
            }
        }
    }

    /// Deletes, in one transaction, at most `limit` requests not `running` whose `finished_at`
    /// is before `finishedBefore`, oldest first; their batches, attempts and events go with
    /// them (cascade).
    /// - Returns: how many requests were deleted.
    /// - Throws: ``StoreError`` when the write fails.
    public func deleteFinished(finishedBefore: Date, limit: Int) async throws(StoreError) -> Int {
        guard limit > 0 else { return 0 }
        return try await write("deleting finished requests") { db in
            try db.cachedStatement(sql: Statements.deleteFinished).execute(
                arguments: [Self.millis(finishedBefore), limit])
            return db.changesCount
        }
    }

    /// How many requests `client` has stored, and how many of them are `running`.
    /// - Throws: ``StoreError`` when the read fails.
    public func counts(client: String) async throws(StoreError) -> ClientRequestCounts {
        try await read("counting requests") { db in try Self.counts(db, client: client) }
    }

    // MARK: - Access

    /// Runs `body` in an IMMEDIATE transaction on the writer connection, in a savepoint of its
    /// own when other writes share that transaction (``GroupCommitWriter``), and counts it in
    /// ``writeTransactions`` once committed; maps every error through ``storeError(_:file:operation:)``.
    private func write<T: Sendable>(
        _ operation: String, _ body: @escaping @Sendable (Database) throws -> T
    ) async throws(StoreError) -> T {
        try checkOpen(operation)
        do {
            let value = try await writer.write(body)
            committedWrites.add(1, ordering: .relaxed)
            return value
        } catch {
            throw Self.storeError(error, file: path, operation: operation)
        }
    }

    /// Runs `body` in a read transaction of a reader connection; maps every error.
    private func read<T: Sendable>(
        _ operation: String, _ body: @Sendable (Database) throws -> T
    ) async throws(StoreError) -> T {
        try checkOpen(operation)
        do {
            return try await pool.read(body)
        } catch {
            throw Self.storeError(error, file: path, operation: operation)
        }
    }

    /// Fails with `.unavailable` once ``close()`` was called (SQLite would say "out of memory").
    private func checkOpen(_ operation: String) throws(StoreError) {
        if closed.load(ordering: .acquiring) {
            throw StoreError(.unavailable, "the store \(path) is closed (\(operation))")
        }
    }

    /// The one map from any error of GRDB, SQLite or this module to a ``StoreError`` naming
    /// `file`; SQL and its arguments are never part of the message.
    static func storeError(_ error: any Error, file: String, operation: String) -> StoreError {
        if let error = error as? StoreError {
            return error
        }
        if error is CancellationError {
            return StoreError(.unavailable, "the store \(file): \(operation) was cancelled")
        }
        if error is RowDecodingError || error is DecodingError {
            return StoreError(
                .corrupt, "the store \(file) holds a row that cannot be read (\(operation)); restore it from a backup")
        }
        guard let error = error as? DatabaseError else {
            return StoreError(.failed, "the store \(file): \(operation) failed (\(type(of: error)))")
        }
        let sqlite = "SQLite error \(error.extendedResultCode.rawValue): \(error.message ?? "no message")"
        switch error.resultCode {
        case .SQLITE_NOTADB, .SQLITE_CORRUPT:
            return StoreError(
                .corrupt,
                "the store \(file) is not an SQLite database or is damaged (\(operation): \(sqlite)); "
                    + "restore it from a backup or move it away")
        case .SQLITE_CANTOPEN, .SQLITE_READONLY, .SQLITE_PERM, .SQLITE_FULL:
            return StoreError(
                .unwritable,
                "the store \(file) cannot be created or written (\(operation): \(sqlite)); "
                    + "check the folder, the permissions and the free space")
        case .SQLITE_BUSY, .SQLITE_LOCKED, .SQLITE_IOERR:
            return StoreError(.unavailable, "the store \(file) is unavailable (\(operation): \(sqlite))")
        default:
            return StoreError(.failed, "the store \(file): \(operation) failed (\(sqlite))")
        }
    }

    // MARK: - Leases

    /// One process holds an SQLite store (its lock file): nothing is leased.
    public var isShared: Bool { false }

    /// Every running request: this process holds them all.
    /// - Throws: ``StoreError`` when the read fails.
    public func renewLeases() async throws(StoreError) -> Set<String> {
        Set(try await runningRequests().map(\.request.id))
    }

    /// Every running request (at most `limit`, oldest first): what an earlier process left.
    /// - Throws: ``StoreError`` when the read fails.
    public func claimExpiredLeases(limit: Int) async throws(StoreError) -> [StoredRequestSnapshot] {
        Array(try await runningRequests().prefix(max(0, limit)))
    }

    /// Nothing to release: no other process can take the requests over while this one holds
    /// the file.
    public func releaseLeases() async throws(StoreError) -> Int { 0 }

    // MARK: - Conversions

    /// `strings` as a JSON array (``JSONStringArray``).
    static func jsonArray(_ strings: [String]) -> String {
        JSONStringArray.encode(strings)
    }

    /// The strings of a JSON array (``JSONStringArray``).
    /// - Throws: `DecodingError` when `text` is not a JSON array of strings.
    static func strings(fromJSON text: String) throws -> [String] {
        try JSONStringArray.decode(text)
    }
}

/// Closes a file descriptor (the C `close`, which the store's own ``SQLiteGatewayStore/close()`` hides).
func closeDescriptor(_ fd: Int32) {
    _ = close(fd)
}
