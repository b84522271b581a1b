import Foundation
import Logging
import PostgresNIO

extension PostgresGatewayStore {
    /// Replicas share a PostgreSQL store.
    public var isShared: Bool { true }

    /// Renews, in one statement, the lease of every running request this replica owns, to
    /// ``leaseMs`` from the database's clock now (docs/ARCHITECTURE.md, "Replicas").
    /// - Returns: the ids of the requests still leased to this replica: a request this replica
    ///   runs that is missing was taken over by another replica (its lease expired first) or
    ///   ended there.
    /// - Throws: ``StoreError`` when the write fails.
    public func renewLeases() async throws(StoreError) -> Set<String> {
        let (logger, owner, leaseMs) = (logger, replicaID, leaseMs)
        return try await write("renewing leases", counted: false) { connection in
            let rows = try await connection.query(
                """
                UPDATE requests SET lease_until = \(unescaped: Self.databaseNowMs) + \(leaseMs)
                WHERE owner = \(owner) AND state = 'running' RETURNING id
                """, logger: logger)
            var ids = Set<String>()
            for try await id in rows.decode(String.self) { ids.insert(id) }
            return ids
        }
    }

    /// Takes over, in one transaction, at most `limit` running requests whose lease expired on
    /// the database's clock (their replica stopped renewing: killed, cut off, or released them
    /// on SIGTERM), oldest first; rows another replica is taking at the same time are skipped
    /// (`FOR UPDATE SKIP LOCKED`), so each request goes to one replica. Never a live lease,
    /// never this replica's own.
    /// - Returns: the requests taken, leased to this replica for ``leaseMs``, as stored.
    /// - Throws: ``StoreError`` when the write fails.
    public func claimExpiredLeases(limit: Int) async throws(StoreError) -> [StoredRequestSnapshot] {
        guard limit > 0 else { return [] }
        let (logger, owner, leaseMs) = (logger, replicaID, leaseMs)
        return try await write("taking over expired leases", counted: false) { connection in
            let rows = try await connection.query(
                """
                UPDATE requests SET owner = \(owner), lease_until = \(unescaped: Self.databaseNowMs) + \(leaseMs)
                WHERE id IN (
                    SELECT id FROM requests
                    WHERE state = 'running' AND lease_until < \(unescaped: Self.databaseNowMs)
                        AND owner IS DISTINCT FROM \(owner)
                    ORDER BY created_at, id COLLATE "C" LIMIT \(limit) FOR UPDATE SKIP LOCKED
                ) RETURNING id
                """, logger: logger)
            var ids: [String] = []
            for try await id in rows.decode(String.self) { ids.append(id) }
            var snapshots: [StoredRequestSnapshot] = []
            for id in ids {
                if let snapshot = try await Self.snapshot(connection, id: id, logger: logger) {
                    snapshots.append(snapshot)
                }
            }
            return snapshots.sorted { ($0.request.createdAt, $0.request.id) < ($1.request.createdAt, $1.request.id) }
        }
    }

    /// Ends the leases of this replica's running requests at once (it stops: SIGTERM, after its
    /// drain), so that another replica takes them over at its next claim instead of after
    /// ``leaseMs``. The requests stay this replica's until then: a write still in flight is
    /// kept, and a later one fails `.leaseLost` once another replica took them.
    /// - Returns: how many leases were released.
    /// - Throws: ``StoreError`` when the write fails.
    public func releaseLeases() async throws(StoreError) -> Int {
        let (logger, owner) = (logger, replicaID)
        return try await write("releasing leases", counted: false) { connection in
            try await connection.query(
                "UPDATE requests SET lease_until = 0 WHERE owner = \(owner) AND state = 'running' RETURNING id",
                logger: logger
            ).collect().count
        }
    }

    /// Locks the request's row and makes it this replica's (a resume): allowed when the
    /// request is not running, is this replica's already, or its lease expired.
    /// - Returns: the request's event counter; nil when it is not stored.
    /// - Throws: ``StoreError`` `.leaseLost` when another replica's lease is live.
    static func takeLease(
        _ connection: PostgresConnection, requestID: String, owner: String, leaseMs: Int64, logger: Logger
    ) async throws -> Int64? {
        guard
            let row = try await connection.query(
                """
                SELECT event_counter, state, owner, lease_until < \(unescaped: databaseNowMs) FROM requests
                WHERE id = \(requestID) FOR UPDATE
                """, logger: logger
            ).collect().first
        else { return nil }
        let (counter, state, stored, expired) = try row.decode((Int64, String, String?, Bool).self)
        if state == RequestState.running.rawValue, stored != owner, !expired {
            throw leaseLost(requestID: requestID, owner: stored)
        }
        // Ended meanwhile (its owner's final write came first): never running again; the
        // caller reads its outcome.
        if state == RequestState.final.rawValue {
            throw StoreError(
                .leaseLost, "request \(requestID) has ended (on \(stored.map { "replica " + $0 } ?? "no replica"))")
        }
        try await connection.query(
            """
            UPDATE requests SET owner = \(owner), lease_until = \(unescaped: databaseNowMs) + \(leaseMs)
            WHERE id = \(requestID)
            """, logger: logger)
        return counter
    }
}
