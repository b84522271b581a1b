import Foundation
import Logging
import PostgresNIO
import JSONText

extension PostgresGatewayStore {
    /// The columns of `requests`, in ``requestRecord(_:)``'s order.
    static let requestColumns = """
        id, client, route, idempotency_key, body_digest, member_status, project_id, vault_id, correlation_id, \
        warnings, weight, created_at, deadline, background_until, state, event_counter, updated_at, finished_at, \
        elapsed_ms
        """

    /// The id of the request `client` stored under `key`, nil when none.
    static func requestID(
        _ connection: PostgresConnection, client: String, key: String, logger: Logger
    ) async throws -> String? {
        try await connection.query(
            "SELECT id FROM requests WHERE client = \(client) AND idempotency_key = \(key)", logger: logger
        ).collect().first?.decode(String.self)
    }

    /// A request with its batches and attempts, nil when not stored.
    static func snapshot(_ connection: PostgresConnection, id: String, logger: Logger) async throws
        -> StoredRequestSnapshot?
    {
        guard
            let row = try await connection.query(
                "SELECT \(unescaped: requestColumns) FROM requests WHERE id = \(id)", logger: logger
            ).collect().first
        else { return nil }
        return StoredRequestSnapshot(
            request: try requestRecord(row), batches: try await batches(connection, requestID: id, logger: logger),
            attempts: try await attempts(connection, requestID: id, logger: logger))
    }

    /// A client's counts (no row: none).
    static func counts(_ connection: PostgresConnection, client: String, logger: Logger) async throws
        -> ClientRequestCounts
    {
        guard
            let row = try await connection.query(
                "SELECT stored, running FROM client_counts WHERE client = \(client)", logger: logger
            ).collect().first
        else { return ClientRequestCounts(stored: 0, running: 0) }
        let (stored, running) = try row.decode((Int64, Int64).self)
        return ClientRequestCounts(stored: Int(stored), running: Int(running))
    }

    /// The database's clock now, in milliseconds since the Unix epoch: leases are measured
    /// on it, so that replicas whose clocks differ agree on when a lease expires.
    static let databaseNowMs = "(extract(epoch FROM clock_timestamp()) * 1000)::bigint"

    /// The request's event counter, its row locked until the transaction ends (so that two
    /// writers never take the same event ids); nil when the request is not stored.
    /// - Parameter owner: when given, the request must be this replica's (its last owner:
    ///   running under its lease, or ended here).
    /// - Throws: ``StoreError`` `.leaseLost` when `owner` is given and another replica owns
    ///   the request now (it took it over, and may have ended it).
    static func lockEventCounter(
        _ connection: PostgresConnection, requestID: String, owner: String?, logger: Logger
    ) async throws -> Int64? {
        guard
            let row = try await connection.query(
                "SELECT event_counter, owner FROM requests WHERE id = \(requestID) FOR UPDATE", logger: logger
            ).collect().first
        else { return nil }
        let (counter, stored) = try row.decode((Int64, String?).self)
        if let owner, stored != owner {
            throw leaseLost(requestID: requestID, owner: stored)
        }
        return counter
    }

    /// The error of a write this replica may no longer make.
    static func leaseLost(requestID: String, owner: String?) -> StoreError {
        StoreError(
            .leaseLost,
            "request \(requestID) is no longer leased to this replica (now \(owner.map { "replica " + $0 } ?? "unowned"))")
    }

    /// Inserts a request row as given (its event counter included), leased to `owner` for
    /// `leaseMs` from the database's clock.
    static func insertRequest(
        _ connection: PostgresConnection, _ r: RequestRecord, owner: String, leaseMs: Int64, logger: Logger
    ) async throws {
        let warnings = JSONStringArray.encode(r.warnings)
        let elapsed = r.elapsedMs.map(Int64.init)
        try await connection.query(
            """
            INSERT INTO requests (\(unescaped: requestColumns), owner, lease_until) VALUES (
                \(text(r.id)), \(text(r.client)), \(text(r.route)), \(text(r.idempotencyKey)), \(text(r.bodyDigest)),
                \(text(r.memberStatus)), \(text(r.projectID)), \(text(r.vaultID)), \(text(r.correlationID)), \(warnings),
                \(r.weight), \(millis(r.createdAt)), \(millis(r.deadline)), \(millis(r.backgroundUntil)), \(r.state.rawValue),
                \(r.eventCounter), \(millis(r.updatedAt)), \(r.finishedAt.map(millis)), \(elapsed), \(owner),
                \(unescaped: databaseNowMs) + \(leaseMs))
            """, logger: logger)
    }

    /// Inserts or replaces a batch row of a request; a job id stored earlier is kept when the
    /// new row has none (a replica that lost the lease stored it: the job is never forgotten).
    static func upsertBatch(
        _ connection: PostgresConnection, requestID: String, _ b: BatchRecord, logger: Logger
    ) async throws {
        let images = JSONStringArray.encode(b.images)
        try await connection.query(
            """
            INSERT INTO batches (
                request_id, batch_index, images, state, job_id, job_status, polls, submit_attempts,
                error_code, fail_reason, begin_time, end_time, results_json, submitted_at
            ) VALUES (
                \(requestID), \(b.index), \(images), \(text(b.state)), \(text(b.jobID)), \(text(b.jobStatus)),
                \(b.polls), \(b.submitAttempts), \(text(b.errorCode)), \(text(b.failReason)), \(text(b.beginTime)),
                \(text(b.endTime)), \(text(b.resultsJSON)),
                \(b.submittedAt.map(millis)))
            ON CONFLICT (request_id, batch_index) DO UPDATE SET
                images = excluded.images, state = excluded.state, job_id = COALESCE(excluded.job_id, batches.job_id),
                job_status = excluded.job_status, polls = excluded.polls, submit_attempts = excluded.submit_attempts,
                error_code = excluded.error_code, fail_reason = excluded.fail_reason,
                begin_time = excluded.begin_time, end_time = excluded.end_time,
                results_json = excluded.results_json, submitted_at = excluded.submitted_at
            """, logger: logger)
    }

    /// Inserts or replaces a submit attempt row.
    static func upsertAttempt(_ connection: PostgresConnection, _ a: SubmitAttemptRecord, logger: Logger) async throws {
        try await connection.query(
            """
            INSERT INTO submit_attempts (request_id, batch_index, attempt, started_at, job_id)
            VALUES (\(a.requestID), \(a.batchIndex), \(a.attempt), \(millis(a.startedAt)), \(text(a.jobID)))
            ON CONFLICT (request_id, batch_index, attempt) DO UPDATE SET
                started_at = excluded.started_at, job_id = excluded.job_id
            """, logger: logger)
    }

    /// Inserts `events` with ids `firstID`, `firstID + 1`, ..., stamped now.
    static func insertEvents(
        _ connection: PostgresConnection, requestID: String, firstID: Int64, _ events: [NewEvent], logger: Logger
    ) async throws {
        let now = millis(Date())
        for (offset, event) in events.enumerated() {
            try await connection.query(
                """
                INSERT INTO request_events (request_id, id, kind, data, created_at)
                VALUES (\(requestID), \(firstID + Int64(offset)), \(text(event.kind)), \(text(event.data)), \(now))
                """, logger: logger)
        }
    }

    /// Appends `events` after the request's `counter` (taken with ``lockEventCounter``) and
    /// stores the new counter.
    static func appendEvents(
        _ connection: PostgresConnection, requestID: String, counter: Int64, _ events: [NewEvent], logger: Logger
    ) async throws {
        guard !events.isEmpty else { return }
        try await insertEvents(connection, requestID: requestID, firstID: counter + 1, events, logger: logger)
        // The notification goes out when the transaction commits, with the events.
        try await connection.query(
            """
            UPDATE requests SET event_counter = \(counter + Int64(events.count)) WHERE id = \(requestID)
            RETURNING pg_notify(\(notificationChannel), id)::text
            """,
            logger: logger
        ).collect()
    }

    /// A `requests` row (``requestColumns``) as a record.
    /// - Throws: `PostgresDecodingError`, or `DecodingError` for an unknown state or a
    ///   `warnings` column that is not a JSON array of strings.
    static func requestRecord(_ row: PostgresRow) throws -> RequestRecord {
        let r = row.makeRandomAccess()
        let stateWord = try r["state"].decode(String.self)
        guard let state = RequestState(rawValue: stateWord) else {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "unknown request state"))
        }
        return RequestRecord(
            id: try r["id"].decode(String.self),
            client: try r["client"].decode(String.self),
            route: try r["route"].decode(String.self),
            idempotencyKey: try r["idempotency_key"].decode(String?.self),
            bodyDigest: try r["body_digest"].decode(String.self),
            memberStatus: try r["member_status"].decode(String.self),
            projectID: try r["project_id"].decode(String.self),
            vaultID: try r["vault_id"].decode(String?.self),
            correlationID: try r["correlation_id"].decode(String.self),
            warnings: try JSONStringArray.decode(try r["warnings"].decode(String.self)),
            weight: try r["weight"].decode(Double.self),
            createdAt: date(try r["created_at"].decode(Int64.self)),
            deadline: date(try r["deadline"].decode(Int64.self)),
            backgroundUntil: date(try r["background_until"].decode(Int64.self)),
            state: state,
            eventCounter: try r["event_counter"].decode(Int64.self),
            updatedAt: date(try r["updated_at"].decode(Int64.self)),
            finishedAt: try r["finished_at"].decode(Int64?.self).map(date),
            elapsedMs: try r["elapsed_ms"].decode(Int64?.self).map { Int($0) })
    }

    /// A request's batches, in index order.
    static func batches(_ connection: PostgresConnection, requestID: String, logger: Logger) async throws
        -> [BatchRecord]
    {
        let rows = try await connection.query(
            """
            SELECT batch_index, images, state, job_id, job_status, polls, submit_attempts, error_code, fail_reason,
                begin_time, end_time, results_json, submitted_at
            FROM batches WHERE request_id = \(requestID) ORDER BY batch_index
            """, logger: logger
        ).collect()
        return try rows.map { row in
            let r = row.makeRandomAccess()
            return BatchRecord(
                index: try r["batch_index"].decode(Int.self),
                images: try JSONStringArray.decode(try r["images"].decode(String.self)),
                state: try r["state"].decode(String.self),
                jobID: try r["job_id"].decode(String?.self),
                jobStatus: try r["job_status"].decode(String?.self),
                polls: try r["polls"].decode(Int.self),
                submitAttempts: try r["submit_attempts"].decode(Int.self),
                errorCode: try r["error_code"].decode(String?.self),
                failReason: try r["fail_reason"].decode(String?.self),
                beginTime: try r["begin_time"].decode(String?.self),
                endTime: try r["end_time"].decode(String?.self),
                resultsJSON: try r["results_json"].decode(String?.self),
                submittedAt: try r["submitted_at"].decode(Int64?.self).map(date))
        }
    }

    /// A request's submit attempts, by batch then attempt.
    static func attempts(_ connection: PostgresConnection, requestID: String, logger: Logger) async throws
        -> [SubmitAttemptRecord]
    {
        var attempts: [SubmitAttemptRecord] = []
        let rows = try await connection.query(
            """
            SELECT batch_index, attempt, started_at, job_id FROM submit_attempts
            WHERE request_id = \(requestID) ORDER BY batch_index, attempt
            """, logger: logger)
        for try await (batchIndex, attempt, started, jobID) in rows.decode((Int, Int, Int64, String?).self) {
            attempts.append(
                SubmitAttemptRecord(
                    requestID: requestID, batchIndex: batchIndex, attempt: attempt, startedAt: date(started),
                    jobID: jobID))
        }
        return attempts
    }
}
