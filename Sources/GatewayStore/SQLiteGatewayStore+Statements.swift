import Foundation
import GRDB

extension SQLiteGatewayStore {
    /// Every SQL statement of the store, one per name; values are always bound (`?`), never
    /// interpolated. Each is run through GRDB's statement cache (`cachedStatement(sql:)`), so
    /// it is parsed and planned once per connection, not at each use; the writes bind their
    /// values with ``GRDB/Database/run(_:_:)``.
    enum Statements {
        /// Connection setup, effective only on a file with no table yet (SQLite ignores it
        /// otherwise, and in WAL mode): 2 KB pages. Every commit appends each page it changed,
        /// whole, to the WAL and checksums it; the store's rows are a few hundred bytes and a
        /// request's transition changes about ten pages, so with SQLite's 4 KB default the WAL
        /// checksum alone was 6 % of a request's instructions. Measured (callgrind, instructions
        /// per request): 4 KB 2,338,191; 2 KB 2,276,320; 1 KB 2,280,177 (more pages split).
        static let pageSize = "PRAGMA page_size = 2048"
        /// Connection setup: commits are durable at WAL checkpoints, not each fsync.
        static let synchronousNormal = "PRAGMA synchronous = NORMAL"
        /// Connection setup: `ON DELETE CASCADE` and the references are enforced.
        static let foreignKeysOn = "PRAGMA foreign_keys = ON"

        /// Opens a write transaction, taking the write lock at once (no arguments).
        static let beginImmediate = "BEGIN IMMEDIATE TRANSACTION"
        /// Commits the transaction (no arguments).
        static let commit = "COMMIT TRANSACTION"
        /// Opens the savepoint of one write in a group (no arguments).
        static let savepoint = "SAVEPOINT gateway_write"
        /// Keeps what the write did (no arguments).
        static let releaseSavepoint = "RELEASE SAVEPOINT gateway_write"
        /// Undoes what the write did, the rest of the group stays (no arguments).
        static let rollbackToSavepoint = "ROLLBACK TRANSACTION TO SAVEPOINT gateway_write"

        /// Whether `store_meta` exists (no arguments).
        static let storeMetaExists =
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'store_meta'"
        /// One `store_meta` value: key.
        static let selectMeta = "SELECT value FROM store_meta WHERE key = ?"

        /// A request's id from its client and key: client, key.
        static let selectRequestIDByKey = "SELECT id FROM requests WHERE client = ? AND idempotency_key = ?"
        /// A request's event counter: id.
        static let selectEventCounter = "SELECT event_counter FROM requests WHERE id = ?"
        /// A request's row: id.
        static let selectRequest = "SELECT * FROM requests WHERE id = ?"
        /// Every running request, oldest first (no arguments).
        static let selectRunningRequests =
            "SELECT * FROM requests WHERE state = 'running' ORDER BY created_at, id"
        /// A client's stored and running requests, as the triggers of schema version 2 keep
        /// them (no row: none): client.
        static let selectClientCounts = "SELECT stored, running FROM client_counts WHERE client = ?"
        /// A new request row: every column, in table order.
        static let insertRequest = """
            INSERT INTO requests (
                id, client, route, idempotency_key, body_digest, member_status, project_id, vault_id,
                correlation_id, warnings, weight, created_at, deadline, background_until, state,
                event_counter, updated_at, finished_at, elapsed_ms
            ) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """
        /// Adds to a request's event counter, giving the new one (no row: no such request):
        /// events added, id.
        static let addToEventCounter =
            "UPDATE requests SET event_counter = event_counter + ? WHERE id = ? RETURNING event_counter"
        /// A request's new state and events added to its counter, giving the new counter (no
        /// row: no such request): state, updated_at, finished_at, elapsed_ms (kept when NULL),
        /// deadline (kept when NULL), background_until (kept when NULL), warnings (kept when
        /// NULL), events added, id.
        static let updateRequestStateAndCounter = """
            UPDATE requests SET state = ?, updated_at = ?, finished_at = ?,
                elapsed_ms = COALESCE(?, elapsed_ms), deadline = COALESCE(?, deadline),
                background_until = COALESCE(?, background_until), warnings = COALESCE(?, warnings),
                event_counter = event_counter + ?
            WHERE id = ? RETURNING event_counter
            """
        /// A request's event counter and the job id of one of its batches (NULL: none yet, or
        /// no such batch; no row: no such request): batch index, request id.
        static let selectEventCounterAndJobID = """
            SELECT requests.event_counter, batches.job_id FROM requests
            LEFT JOIN batches ON batches.request_id = requests.id AND batches.batch_index = ?
            WHERE requests.id = ?
            """
        /// Finished requests finished before a time, oldest first (cascades): finished_at
        /// bound (ms), limit.
        static let deleteFinished = """
            DELETE FROM requests WHERE id IN (
                SELECT id FROM requests WHERE state <> 'running' AND finished_at < ?
                ORDER BY finished_at, id LIMIT ?
            )
            """

        /// A batch row, inserted or replaced: every column, in table order.
        static let replaceBatch = """
            INSERT OR REPLACE INTO batches (
                request_id, batch_index, images, state, job_id, job_status, polls, submit_attempts,
                error_code, fail_reason, begin_time, end_time, results_json, submitted_at
            ) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """
        /// A request's batches in index order: request id.
        static let selectBatches = "SELECT * FROM batches WHERE request_id = ? ORDER BY batch_index"

        /// A submit attempt row, inserted or replaced: request id, batch, attempt, started_at, job id.
        static let replaceAttempt = """
            INSERT OR REPLACE INTO submit_attempts (request_id, batch_index, attempt, started_at, job_id)
            VALUES (?, ?, ?, ?, ?)
            """
        /// An attempt's job id: job id, request id, batch, attempt.
        static let updateAttemptJobID =
            "UPDATE submit_attempts SET job_id = ? WHERE request_id = ? AND batch_index = ? AND attempt = ?"
        /// A request's attempts by batch, then attempt: request id.
        static let selectAttempts =
            "SELECT * FROM submit_attempts WHERE request_id = ? ORDER BY batch_index, attempt"

        /// A new event: request id, id, kind, data, created_at.
        static let insertEvent =
            "INSERT INTO request_events (request_id, id, kind, data, created_at) VALUES (?, ?, ?, ?, ?)"
        /// Two new events (a request's final write: its last `batch` event and its `result`),
        /// in one statement: ``insertEvent``'s values twice.
        static let insertTwoEvents =
            "INSERT INTO request_events (request_id, id, kind, data, created_at) VALUES (?, ?, ?, ?, ?), (?, ?, ?, ?, ?)"
        /// A request's events after an id, in order: request id, after id, limit.
        static let selectEvents = """
            SELECT request_id, id, kind, data, created_at FROM request_events
            WHERE request_id = ? AND id > ? ORDER BY id LIMIT ?
            """
    }

    // MARK: - Rows

    /// `schema_version` and `min_gateway_version` from `store_meta`, nil when the table or the
    /// key is missing (a store never migrated).
    /// - Throws: a GRDB error, or ``StoreError`` `.corrupt`-worthy `DecodingError` when the
    ///   version is not a number.
    static func readMeta(_ db: Database) throws -> (schemaVersion: Int?, minimumGatewayVersion: String?) {
        guard try Int.fetchOne(db.cachedStatement(sql: Statements.storeMetaExists)) ?? 0 > 0 else { return (nil, nil) }
        let version = try String.fetchOne(db.cachedStatement(sql: Statements.selectMeta), arguments: ["schema_version"])
        let minimum = try String.fetchOne(
            db.cachedStatement(sql: Statements.selectMeta), arguments: ["min_gateway_version"])
        guard let version else { return (nil, minimum) }
        guard let number = Int(version) else {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "schema_version is not a number"))
        }
        return (number, minimum)
    }

    /// A request with its batches and attempts, nil when not stored.
    static func snapshot(_ db: Database, id: String) throws -> StoredRequestSnapshot? {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: Statements.selectRequest), arguments: [id])
        else { return nil }
        return StoredRequestSnapshot(
            request: try requestRecord(row), batches: try batches(db, requestID: id),
            attempts: try attempts(db, requestID: id))
    }

    /// A client's counts.
    /// - Throws: a GRDB error, or `DecodingError` when a count is not an integer.
    static func counts(_ db: Database, client: String) throws -> ClientRequestCounts {
        guard let row = try db.run(Statements.selectClientCounts, [.text(client)])
        else { return ClientRequestCounts(stored: 0, running: 0) }
        guard let stored = row.integer(0), let running = row.integer(1) else {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "client_counts is not a number"))
        }
        return ClientRequestCounts(stored: Int(stored), running: Int(running))
    }

    /// Inserts a request row as given (its event counter included).
    static func insertRequest(_ db: Database, _ r: RequestRecord) throws {
        try db.run(Statements.insertRequest, [
            .text(text(r.id)), .text(text(r.client)), .text(text(r.route)), .text(text(r.idempotencyKey)),
            .text(text(r.bodyDigest)), .text(text(r.memberStatus)), .text(text(r.projectID)), .text(text(r.vaultID)),
            .text(text(r.correlationID)), .text(jsonArray(r.warnings)), .real(r.weight), .integer(millis(r.createdAt)),
            .integer(millis(r.deadline)), .integer(millis(r.backgroundUntil)), .text(r.state.rawValue),
            .integer(r.eventCounter), .integer(millis(r.updatedAt)), .integer(r.finishedAt.map(millis)),
            .integer(r.elapsedMs),
        ])
    }

    /// Inserts or replaces a batch row of a request.
    static func replaceBatch(_ db: Database, requestID: String, _ b: BatchRecord) throws {
        try db.run(Statements.replaceBatch, [
            .text(requestID), .integer(Int64(b.index)), .text(jsonArray(b.images)), .text(text(b.state)),
            .text(text(b.jobID)), .text(text(b.jobStatus)), .integer(Int64(b.polls)), .integer(Int64(b.submitAttempts)),
            .text(text(b.errorCode)), .text(text(b.failReason)), .text(text(b.beginTime)), .text(text(b.endTime)),
            .text(text(b.resultsJSON)), .integer(b.submittedAt.map(millis)),
        ])
    }

    /// Inserts or replaces a submit attempt row.
    static func replaceAttempt(_ db: Database, _ a: SubmitAttemptRecord) throws {
        try db.run(Statements.replaceAttempt, [
            .text(a.requestID), .integer(Int64(a.batchIndex)), .integer(Int64(a.attempt)),
            .integer(millis(a.startedAt)), .text(text(a.jobID)),
        ])
    }

    /// Inserts `events` with ids `firstID`, `firstID + 1`, ..., stamped now.
    static func insertEvents(_ db: Database, requestID: String, firstID: Int64, _ events: [NewEvent]) throws {
        let now = millis(Date())
        if events.count == 2 {
            // One statement instead of two: SQLite's work per statement (its program's start
            // and end, the foreign key's set-up) is paid once.
            try db.run(Statements.insertTwoEvents, [
                .text(requestID), .integer(firstID), .text(text(events[0].kind)), .text(text(events[0].data)), .integer(now),
                .text(requestID), .integer(firstID + 1), .text(text(events[1].kind)), .text(text(events[1].data)), .integer(now),
            ])
            return
        }
        for (offset, event) in events.enumerated() {
            try db.run(Statements.insertEvent, [
                .text(requestID), .integer(firstID + Int64(offset)), .text(text(event.kind)), .text(text(event.data)),
                .integer(now),
            ])
        }
    }

    /// Adds `events.count` to the request's event counter and appends `events` with the ids
    /// that frees, in one statement more than the events.
    /// - Throws: ``StoreError`` `.notFound` (named by `path`) when the request is not stored;
    ///   a GRDB error when a statement fails.
    static func appendEvents(_ db: Database, requestID: String, path: String, _ events: [NewEvent]) throws {
        guard !events.isEmpty else {
            guard try db.run(Statements.selectEventCounter, [.text(requestID)]) != nil else { throw notFound(path: path) }
            return
        }
        guard let row = try db.run(Statements.addToEventCounter, [.integer(Int64(events.count)), .text(requestID)])
        else { throw notFound(path: path) }
        try insertEvents(db, requestID: requestID, firstID: try counter(row) - Int64(events.count) + 1, events)
    }

    /// The event counter in column 0 of `row`.
    /// - Throws: `DecodingError` when it is not an integer.
    static func counter(_ row: StoreRow) throws -> Int64 {
        guard let counter = row.integer(0) else {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "event_counter is not a number"))
        }
        return counter
    }

    /// The error of a write that names a request the store does not hold (no id in it).
    static func notFound(path: String) -> StoreError {
        StoreError(.notFound, "the store \(path) holds no such request")
    }

    /// A `requests` row as a record.
    static func requestRecord(_ row: Row) throws -> RequestRecord {
        let stateWord = try row.decode(String.self, forColumn: "state")
        guard let state = RequestState(rawValue: stateWord) else {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "unknown request state"))
        }
        return RequestRecord(
            id: try row.decode(String.self, forColumn: "id"),
            client: try row.decode(String.self, forColumn: "client"),
            route: try row.decode(String.self, forColumn: "route"),
            idempotencyKey: try row.decode(String?.self, forColumn: "idempotency_key"),
            bodyDigest: try row.decode(String.self, forColumn: "body_digest"),
            memberStatus: try row.decode(String.self, forColumn: "member_status"),
            projectID: try row.decode(String.self, forColumn: "project_id"),
            vaultID: try row.decode(String?.self, forColumn: "vault_id"),
            correlationID: try row.decode(String.self, forColumn: "correlation_id"),
            warnings: try strings(fromJSON: try row.decode(String.self, forColumn: "warnings")),
            weight: try row.decode(Double.self, forColumn: "weight"),
            createdAt: date(try row.decode(Int64.self, forColumn: "created_at")),
            deadline: date(try row.decode(Int64.self, forColumn: "deadline")),
            backgroundUntil: date(try row.decode(Int64.self, forColumn: "background_until")),
            state: state,
            eventCounter: try row.decode(Int64.self, forColumn: "event_counter"),
            updatedAt: date(try row.decode(Int64.self, forColumn: "updated_at")),
            finishedAt: try row.decode(Int64?.self, forColumn: "finished_at").map(date),
            elapsedMs: try row.decode(Int?.self, forColumn: "elapsed_ms"))
    }

    /// A request's batches, in index order.
    static func batches(_ db: Database, requestID: String) throws -> [BatchRecord] {
        try Row.fetchAll(db.cachedStatement(sql: Statements.selectBatches), arguments: [requestID]).map { row in
            BatchRecord(
                index: try row.decode(Int.self, forColumn: "batch_index"),
                images: try strings(fromJSON: try row.decode(String.self, forColumn: "images")),
                state: try row.decode(String.self, forColumn: "state"),
                jobID: try row.decode(String?.self, forColumn: "job_id"),
                jobStatus: try row.decode(String?.self, forColumn: "job_status"),
                polls: try row.decode(Int.self, forColumn: "polls"),
                submitAttempts: try row.decode(Int.self, forColumn: "submit_attempts"),
                errorCode: try row.decode(String?.self, forColumn: "error_code"),
                failReason: try row.decode(String?.self, forColumn: "fail_reason"),
                beginTime: try row.decode(String?.self, forColumn: "begin_time"),
                endTime: try row.decode(String?.self, forColumn: "end_time"),
                resultsJSON: try row.decode(String?.self, forColumn: "results_json"),
                submittedAt: try row.decode(Int64?.self, forColumn: "submitted_at").map(date))
        }
    }

    /// A request's submit attempts, by batch then attempt.
    static func attempts(_ db: Database, requestID: String) throws -> [SubmitAttemptRecord] {
        try Row.fetchAll(db.cachedStatement(sql: Statements.selectAttempts), arguments: [requestID]).map { row in
            SubmitAttemptRecord(
                requestID: try row.decode(String.self, forColumn: "request_id"),
                batchIndex: try row.decode(Int.self, forColumn: "batch_index"),
                attempt: try row.decode(Int.self, forColumn: "attempt"),
                startedAt: date(try row.decode(Int64.self, forColumn: "started_at")),
                jobID: try row.decode(String?.self, forColumn: "job_id"))
        }
    }
}
