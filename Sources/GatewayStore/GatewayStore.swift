import Foundation

/// The gateway's durable store of requests: every accept/reject request, its batches, each
/// submit attempt and an append-only event log, kept so that a crash or a restart loses no job
/// id and no outcome (docs/ARCHITECTURE.md, "State and recovery").
///
/// Every method that writes is one transaction (IMMEDIATE on SQLite). Each write that changes a
/// request may append events to its log; their ids come from the request's event counter,
/// taken in the same transaction, so ids commit in order with no gap.
///
/// No HTTP and no IMS knowledge: states are the gateway's words, stored as given.
/// - Important: Implementations are safe to call from many tasks at once.
public protocol GatewayStore: Sendable {
    /// Stores a new request with its batches, its first submit attempts and its first events,
    /// unless the same client already stored a request under the same `Idempotency-Key`
    /// (then that one is returned, whatever its body digest: the caller compares) or the
    /// client is over one of its limits.
    /// - Parameters:
    ///   - request: the request, its `eventCounter` ignored (the store counts `events`).
    ///   - batches: every batch of the request, in order.
    ///   - attempts: submit attempts started with the admission (at most one per batch).
    ///   - limits: the client's bounds, checked in the same transaction.
    ///   - events: appended to the request's log, ids from 1.
    /// - Throws: ``StoreError`` when the write fails.
    func admit(
        _ request: RequestRecord, batches: [BatchRecord], attempts: [SubmitAttemptRecord], limits: AdmissionLimits,
        events: [NewEvent]
    ) async throws(StoreError) -> Admission

    /// Stores a submit attempt before its PUT is sent, with the batch's new state (usually
    /// `submitting`, `submit_attempts` counted).
    /// - Throws: ``StoreError`` when the write fails.
    func recordAttempt(_ attempt: SubmitAttemptRecord, batch: BatchRecord, events: [NewEvent]) async throws(StoreError)

    /// Stores the job id IMS gave to a submit attempt, with the batch's new state (`pending`,
    /// `job_id` set) and `events`, whatever state the request is in. When the batch's row has
    /// a job id already (a later write carried it), only the attempt is updated: a late
    /// write never replaces a newer state.
    /// - Throws: ``StoreError`` when the write fails.
    func recordJobID(
        _ jobID: String, requestID: String, batchIndex: Int, attempt: Int, batch: BatchRecord, events: [NewEvent]
    ) async throws(StoreError)

    /// Stores the new state of some batches and, when given, of the request itself (its final
    /// or given-up state), with their events.
    /// - Parameters:
    ///   - batches: rows replaced as given (request id and index pick the row).
    ///   - change: the request's new state, or nil to leave it.
    /// - Throws: ``StoreError`` when the write fails, or ``StoreError/Kind/notFound`` when no
    ///   such request is stored.
    func update(
        requestID: String, batches: [BatchRecord], change: RequestChange?, events: [NewEvent]
    ) async throws(StoreError)

    /// The request with its batches and attempts, if stored.
    /// - Throws: ``StoreError`` when the read fails.
    func request(id: String) async throws(StoreError) -> StoredRequestSnapshot?

    /// The request a client stored under an `Idempotency-Key`, if any.
    /// - Throws: ``StoreError`` when the read fails.
    func request(client: String, idempotencyKey: String) async throws(StoreError) -> StoredRequestSnapshot?

    /// Every request in state `running`, oldest first: what a gateway resumes at start.
    /// - Throws: ``StoreError`` when the read fails.
    func runningRequests() async throws(StoreError) -> [StoredRequestSnapshot]

    /// Events of a request with an id above `afterID`, in id order, at most `limit`.
    /// - Throws: ``StoreError`` when the read fails.
    func events(requestID: String, afterID: Int64, limit: Int) async throws(StoreError) -> [RequestEvent]

    /// Deletes at most `limit` requests (with their batches, attempts and events) whose state is
    /// not `running` and that finished before `finishedBefore`; never a running one.
    /// - Returns: how many were deleted.
    /// - Throws: ``StoreError`` when the write fails.
    func deleteFinished(finishedBefore: Date, limit: Int) async throws(StoreError) -> Int

    /// Throws when the store is no longer the one opened (its file deleted or replaced): new
    /// requests must not be accepted into a store that a restart will not find.
    /// - Throws: ``StoreError`` `.unavailable`.
    func checkInPlace() throws(StoreError)

    /// Requests of `client` stored now: all of them, and those in state `running`.
    /// - Throws: ``StoreError`` when the read fails.
    func counts(client: String) async throws(StoreError) -> ClientRequestCounts

    // MARK: - Leases (docs/ARCHITECTURE.md, "Replicas")

    /// Whether several gateway processes (replicas) share the store, each running the
    /// requests it holds a lease on (PostgreSQL); false when one process holds the whole
    /// store (SQLite, by its lock file), where nothing is leased.
    var isShared: Bool { get }

    /// Renews the leases of the running requests this replica owns.
    /// - Returns: the ids still leased to this replica (SQLite: every running request).
    /// - Throws: ``StoreError`` when the write fails.
    func renewLeases() async throws(StoreError) -> Set<String>

    /// Takes over at most `limit` running requests that no live replica holds (their lease
    /// expired, or was released), oldest first, each to exactly one replica. SQLite: every
    /// running request (one process holds the file, so whatever runs there was left by an
    /// earlier process); the gateway asks for them once, at start.
    /// - Throws: ``StoreError`` when the write fails.
    func claimExpiredLeases(limit: Int) async throws(StoreError) -> [StoredRequestSnapshot]

    /// Ends this replica's leases now (it stops), so that another replica takes its requests
    /// over at once. SQLite: nothing to release.
    /// - Returns: how many were released.
    /// - Throws: ``StoreError`` when the write fails.
    func releaseLeases() async throws(StoreError) -> Int
}
