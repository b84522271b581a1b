import Foundation
import GatewayStore
import IMSClient
import Logging
import Synchronization

/// The requests the gateway knows (docs/ARCHITECTURE.md, "State and recovery"): every one in
/// the ``GatewayStore``, and the running ones also in memory, where callers that repeat them
/// with the same `Idempotency-Key` wait on them. The store is the truth after a restart; while
/// this process runs (it holds the store's lock), a running request is the one in memory.
///
/// Write-ahead: a request and its batches (the first attempt of each batch started at once
/// included) are stored before the first PUT; each later attempt before it is sent; the job id
/// as soon as IMS gives it; the final state before the caller is answered.
final class RequestRegistry: Sendable {
    /// What ``begin(_:limits:)`` found for a request.
    enum Admission: Sendable {
        /// Stored: the caller runs it.
        case new(StoredRequest)
        /// Stored earlier, given up or not submitted, and now running again: the caller runs it
        /// from where it stood (jobs with a job id polled, batches without one submitted).
        case resumed(StoredRequest)
        /// The same client sent the same key and body before: the caller waits on that request
        /// (running) or gets its outcome (final).
        case repeated(StoredRequest)
        /// The same client sent the same key with another body (HTTP 422).
        case conflict(requestID: String)
        /// The client has `limit` requests running already (HTTP 429).
        case tooManyPending(limit: Int)
        /// The client has `limit` requests stored already (HTTP 429).
        case tooManyStored(limit: Int)
        /// The store could not be written (HTTP 503).
        case storeUnavailable(StoreError)
    }

    private struct KeyScope: Hashable {
        var client: String
        var key: String
    }

    private struct Live {
        var byID: [String: StoredRequest] = [:]
        var byKey: [KeyScope: StoredRequest] = [:]
        /// Keys whose request is being admitted now, with the callers waiting for their turn.
        var admitting: [KeyScope: [CheckedContinuation<Void, Never>]] = [:]
    }

    let store: any GatewayStore
    /// How long after a request arrived (or was resumed) its jobs may still be waited on.
    let maxBackgroundWait: Duration
    let metrics: GatewayMetrics
    let logger: Logger
    private let live = Mutex(Live())

    /// - Parameters:
    ///   - recovered: requests found `running` in the store at start, already made live
    ///     (``RecoveryService`` resumes them).
    init(
        store: any GatewayStore, maxBackgroundWait: Duration, metrics: GatewayMetrics, logger: Logger,
        recovered: [StoredRequest] = []
    ) {
        self.store = store
        self.maxBackgroundWait = maxBackgroundWait
        self.metrics = metrics
        self.logger = logger
        live.withLock { live in
            for request in recovered { Self.add(request, to: &live) }
        }
    }

    /// Stores `request`, unless its client sent its `Idempotency-Key` before (then that request
    /// is returned, as a repeat, a conflict, or resumed when it had given up), or the client is
    /// over a limit. A running request with the same key is joined without reading the store;
    /// callers with the same key take turns at the store, so that a repeat only ever joins a
    /// request that was stored.
    func begin(_ request: StoredRequest, limits: AdmissionLimits, deadline: Date) async -> Admission {
        guard let key = request.idempotencyKey else {
            live.withLock { live in Self.add(request, to: &live) }
            return await admit(request, limits: limits, deadline: deadline)
        }
        let scope = KeyScope(client: request.clientName, key: key)
        while true {
            switch live.withLock({ live -> Turn in
                if let earlier = live.byKey[scope] { return .join(earlier) }
                if live.admitting[scope] != nil { return .wait }
                live.admitting[scope] = []
                return .admit
            }) {
            case .join(let earlier):
                return earlier.fingerprint == request.fingerprint ? .repeated(earlier) : .conflict(requestID: earlier.requestID)
            case .wait:
                await waitForTurn(scope)
            case .admit:
                // Known by its id at once (GET); by its key only once stored.
                live.withLock { live in live.byID[request.requestID] = request }
                let admission = await admit(request, limits: limits, deadline: deadline)
                let waiters = live.withLock { live -> [CheckedContinuation<Void, Never>] in
                    if case .new(let stored) = admission { Self.add(stored, to: &live) }
                    return live.admitting.removeValue(forKey: scope) ?? []
                }
                for waiter in waiters { waiter.resume() }
                return admission
            }
        }
    }

    /// What a caller with a key does next.
    private enum Turn {
        case join(StoredRequest)
        case wait
        case admit
    }

    /// Waits until the caller admitting a request with the same key is done.
    private func waitForTurn(_ scope: KeyScope) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let queued = live.withLock { live -> Bool in
                guard live.admitting[scope] != nil else { return false }
                live.admitting[scope]?.append(continuation)
                return true
            }
            if !queued { continuation.resume() }
        }
    }

    /// Stores `request` (its key's turn taken), or finds the earlier request with its key.
    private func admit(_ request: StoredRequest, limits: AdmissionLimits, deadline: Date) async -> Admission {
        let admission: StoreAdmission
        let batches = request.current().batches
        do throws(StoreError) {
            try store.checkInPlace()
            admission = try await store.admit(
                record(of: request, deadline: deadline), batches: batches.map(batchRecord(running: true)),
                attempts: firstAttempts(of: request, batches: batches), limits: limits,
                events: [RequestEvents.admitted(request)])
        } catch {
            return drop(request, .storeUnavailable(error))
        }
        switch admission {
        case .admitted:
            metrics.storeWrite(operation: "admit")
            return .new(request)
        case .tooManyRunning(let limit):
            return drop(request, .tooManyPending(limit: limit))
        case .tooManyStored(let limit):
            return drop(request, .tooManyStored(limit: limit))
        case .existing(let snapshot):
            return await existing(snapshot, for: request, deadline: deadline)
        }
    }

    /// What a request with a key stored earlier (and not running here) gets: its outcome, or
    /// the request resumed.
    private func existing(_ snapshot: StoredRequestSnapshot, for request: StoredRequest, deadline: Date) async -> Admission {
        guard snapshot.request.bodyDigest == request.fingerprint else {
            return drop(request, .conflict(requestID: snapshot.request.id))
        }
        if snapshot.request.state == .final {
            return drop(request, .repeated(Self.completed(snapshot)))
        }
        // Given up, not submitted, or running without a process: this caller runs it again.
        let now = Date()
        let resumed = Self.live(snapshot, backgroundUntil: now.addingTimeInterval(maxBackgroundWait.seconds))
        do throws(StoreError) {
            try await store.update(
                requestID: snapshot.request.id, batches: [],
                change: RequestChange(
                    state: .running, at: now, deadline: deadline,
                    backgroundUntil: now.addingTimeInterval(maxBackgroundWait.seconds)),
                events: [])
        } catch {
            return drop(request, .storeUnavailable(error))
        }
        metrics.storeWrite(operation: "resume")
        live.withLock { live in
            Self.remove(request, from: &live)
            Self.add(resumed, to: &live)
        }
        return .resumed(resumed)
    }

    /// Forgets a request that was not stored, and answers `admission`.
    private func drop(_ request: StoredRequest, _ admission: Admission) -> Admission {
        live.withLock { live in Self.remove(request, from: &live) }
        return admission
    }

    /// The request `requestID` of `client` that set `memberStatus` (accept and reject are
    /// separate resources): the running one in memory, else the one in the store.
    /// - Throws: ``StoreError`` when the store cannot be read.
    func find(client: String, memberStatus: MemberStatus, requestID: String) async throws(StoreError) -> StoredRequest? {
        if let running = live.withLock({ $0.byID[requestID] }) {
            return running.clientName == client && running.plan.memberStatus == memberStatus ? running : nil
        }
        guard let snapshot = try await store.request(id: requestID), snapshot.request.client == client,
            snapshot.request.memberStatus == memberStatus.rawValue
        else { return nil }
        return Self.completed(snapshot)
    }

    /// Stores where a request ended and wakes the callers waiting on it. The write is retried
    /// (within `answerBy`, then in the background until it lands): the caller gets the real
    /// outcome either way, and the request stays known here until the store has it.
    /// - Parameter state: `final`, `given_up` or `not_submitted`; `running` when the drain cut
    ///   the wait (the next start resumes it).
    func finish(_ request: StoredRequest, result: MemberStatusResult, state: RequestState, answerBy: ContinuousClock.Instant) async {
        let now = Date()
        let running = state == .running
        let batches = result.batches.map(batchRecord(running: running))
        let change = running
            ? nil : RequestChange(state: state, at: now, elapsedMs: result.elapsedMs, warnings: result.warnings)
        let events = running ? [] : [RequestEvents.result(result, state: state)]
        let written = await retrying("final", requestID: request.requestID, until: answerBy) { [store] () async throws(StoreError) in
            try await store.update(requestID: request.requestID, batches: batches, change: change, events: events)
        }
        #if DEBUG
        if written, state == .final { DebugFaultPoint.afterFinalStored.hit() }
        #endif
        request.complete(result, isFinal: state == .final)
        if written {
            forget(request)
            return
        }
        Task {
            _ = await retrying("final", requestID: request.requestID, until: nil) { [store] () async throws(StoreError) in
                try await store.update(requestID: request.requestID, batches: batches, change: change, events: events)
            }
            forget(request)
        }
    }

    /// Forgets a request that is no longer running here (the store has its latest state).
    private func forget(_ request: StoredRequest) {
        live.withLock { live in Self.remove(request, from: &live) }
    }

    /// Runs `write` until it succeeds, or `until` passes (nil: forever), with backoff from 50 ms
    /// to 5 s; every failure is logged and counted.
    /// - Returns: whether it succeeded.
    func retrying(
        _ operation: String, requestID: String, until: ContinuousClock.Instant?,
        _ write: () async throws(StoreError) -> Void
    ) async -> Bool {
        var delay = Duration.milliseconds(50)
        while true {
            do throws(StoreError) {
                try await write()
                metrics.storeWrite(operation: operation)
                return true
            } catch {
                metrics.storeWriteFailed(operation: operation)
                logger.error(
                    "store write failed; retrying",
                    metadata: ["operation": "\(operation)", "request_id": "\(requestID)", "error": "\(error)"])
            }
            if let until, ContinuousClock.now.advanced(by: delay) >= until { return false }
            try? await Task.sleep(for: delay)
            delay = min(delay * 2, .seconds(5))
        }
    }

    // MARK: - Records

    private func record(of request: StoredRequest, deadline: Date) -> RequestRecord {
        RequestRecord(
            id: request.requestID, client: request.clientName, route: request.route,
            idempotencyKey: request.idempotencyKey, bodyDigest: request.fingerprint,
            memberStatus: request.plan.memberStatus.rawValue, projectID: request.plan.projectID,
            vaultID: request.plan.vaultID, correlationID: request.correlationID, warnings: request.plan.warnings,
            weight: request.upstreamCaller.weight, createdAt: request.createdAt, deadline: deadline,
            backgroundUntil: Self.date(request.backgroundUntil), state: .running, updatedAt: Date())
    }

    func batchRecord(running: Bool) -> (BatchResult) -> BatchRecord {
        { $0.record(running: running, wallClockOffset: Self.date) }
    }

    /// The attempts stored with the request: attempt 1 of each batch that starts at once.
    private func firstAttempts(of request: StoredRequest, batches: [BatchResult]) -> [SubmitAttemptRecord] {
        batches.filter { $0.storedAttempts > 0 }.map {
            SubmitAttemptRecord(requestID: request.requestID, batchIndex: $0.index, attempt: 1, startedAt: request.createdAt)
        }
    }

    /// A wall-clock time for an instant of the continuous clock.
    static func date(_ instant: ContinuousClock.Instant) -> Date {
        Date().addingTimeInterval(ContinuousClock.now.duration(to: instant).seconds)
    }

    /// An instant of the continuous clock for a wall-clock time.
    static func instant(_ date: Date) -> ContinuousClock.Instant {
        ContinuousClock.now.advanced(by: .seconds(date.timeIntervalSinceNow))
    }

    /// The plan a stored request was made from.
    static func plan(of record: RequestRecord, batches: [BatchRecord], extraWarnings: [String] = []) -> MemberStatusPlan {
        MemberStatusPlan(
            projectID: record.projectID, memberStatus: MemberStatus(rawValue: record.memberStatus) ?? .accepted,
            vaultID: record.vaultID, images: batches.flatMap(\.images), batches: batches.map(\.images),
            warnings: record.warnings + extraWarnings)
    }

    /// A stored request that is not running, complete with its outcome.
    static func completed(_ snapshot: StoredRequestSnapshot) -> StoredRequest {
        let record = snapshot.request
        let plan = plan(of: record, batches: snapshot.batches)
        let request = StoredRequest(
            requestID: record.id, correlationID: record.correlationID, clientName: record.client, route: record.route,
            plan: plan, batches: snapshot.batches.map { BatchResult(record: $0, instant: instant) },
            idempotencyKey: record.idempotencyKey, started: instant(record.createdAt), createdAt: record.createdAt,
            backgroundUntil: instant(record.backgroundUntil), weight: record.weight)
        if record.state != .running {
            let elapsed = record.elapsedMs ?? Int((record.updatedAt.timeIntervalSince(record.createdAt) * 1000).rounded())
            request.complete(
                MemberStatusResult(requestID: record.id, plan: plan, batches: request.current().batches, elapsedMs: elapsed),
                isFinal: record.state == .final)
        }
        return request
    }

    /// A stored request made live again, to run: batches whose last attempt got no job id are
    /// submitted again only once that attempt is older than `submitTimeout` (with a warning).
    static func live(
        _ snapshot: StoredRequestSnapshot, backgroundUntil: Date, submitTimeout: Duration = .zero
    ) -> StoredRequest {
        let record = snapshot.request
        var warnings: [String] = []
        let batches = snapshot.batches.map { batchRecord -> BatchResult in
            var batch = BatchResult(record: batchRecord, instant: instant)
            guard batch.jobID == nil, batch.state == .notSubmitted || batch.state == .submitFailed else { return batch }
            batch.state = .notSubmitted
            if let last = snapshot.attempts.last(where: { $0.batchIndex == batch.index }), last.jobID == nil,
                batchRecord.state == "submitting"
            {
                let notBefore = last.startedAt.addingTimeInterval(submitTimeout.seconds)
                if notBefore > Date() { batch.submitNotBefore = instant(notBefore) }
                warnings.append(
                    "batch \(batch.index): submit attempt \(last.attempt) got no answer before the gateway stopped; the batch is submitted again, and an extra IMS job may exist")
            }
            return batch
        }
        let plan = plan(of: record, batches: snapshot.batches, extraWarnings: warnings)
        return StoredRequest(
            requestID: record.id, correlationID: record.correlationID, clientName: record.client, route: record.route,
            plan: plan, batches: batches, idempotencyKey: record.idempotencyKey, started: instant(record.createdAt),
            createdAt: record.createdAt, backgroundUntil: instant(backgroundUntil), weight: record.weight)
    }

    private static func add(_ request: StoredRequest, to live: inout Live) {
        live.byID[request.requestID] = request
        if let key = request.idempotencyKey { live.byKey[KeyScope(client: request.clientName, key: key)] = request }
    }

    private static func remove(_ request: StoredRequest, from live: inout Live) {
        if live.byID[request.requestID] === request { live.byID[request.requestID] = nil }
        if let key = request.idempotencyKey {
            let scope = KeyScope(client: request.clientName, key: key)
            if live.byKey[scope] === request { live.byKey[scope] = nil }
        }
    }
}

extension Duration {
    /// The duration in seconds, with its fraction.
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
