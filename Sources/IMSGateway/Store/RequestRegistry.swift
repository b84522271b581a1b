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
        /// Stored: the caller starts it and waits on it.
        case new(LifecycleDriver)
        /// Stored earlier, given up or not submitted, and now running again: the caller starts
        /// it from where it stood (jobs with a job id polled, batches without one submitted).
        case resumed(LifecycleDriver)
        /// The same client sent the same key and body before: the caller waits on that request
        /// (running) or gets its outcome (final).
        case repeated(KnownRequest)
        /// The same client sent the same key with another body (HTTP 422).
        case conflict(requestID: String)
        /// The same client sent the same key and body before, and the request runs on another
        /// replica (it holds the lease): the caller follows it in the store (``follow(requestID:from:until:)``)
        /// and never submits. `document` is where it stood when admitted.
        case elsewhere(requestID: String, document: MemberStatusResult)
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
        var byID: [String: LifecycleDriver] = [:]
        var byKey: [KeyScope: LifecycleDriver] = [:]
        /// Keys whose request is being admitted now, with the callers waiting for their turn.
        var admitting: [KeyScope: [CheckedContinuation<Void, Never>]] = [:]
    }

    let store: any GatewayStore
    /// How long after a request arrived (or was resumed) its jobs may still be waited on.
    let maxBackgroundWait: Duration
    let metrics: GatewayMetrics
    let logger: Logger
    /// What the drivers of its requests work with.
    let context: LifecycleContext
    /// Whether the store answers, as the request path last saw it (`/readyz`'s body).
    let health: StoreHealth
    /// Followers of requests other replicas run, woken by change notifications.
    let watchers = RequestWatchers()
    /// `upstream.timeoutMs` (see ``init(store:maxBackgroundWait:context:logger:recovered:health:submitTimeout:)``).
    let submitTimeout: Duration
    private let live = Mutex(Live())
    /// Requests found `running` at start, known at once, started by ``startRecovered()``.
    private let recovered = Mutex<[LifecycleDriver]>([])

    /// How long an answer may wait for the final state to be stored once it is known (the
    /// write goes on in the background after that; the caller gets the outcome).
    static let finalWriteGrace: Duration = .seconds(2)

    /// - Parameters:
    ///   - recovered: requests found `running` in the store at start (``RecoveryService``
    ///     starts them); known at once, so that a repeat that arrives first joins them.
    ///   - submitTimeout: `upstream.timeoutMs`: a request resumed by a repeat resubmits a batch
    ///     whose last attempt has no job id only once that attempt is older.
    ///   - health: where store failures are reported (shared with the shared budgets); a new
    ///     one when nil.
    init(
        store: any GatewayStore, maxBackgroundWait: Duration, context: LifecycleContext, logger: Logger,
        recovered: [ResumableRequest] = [], health: StoreHealth? = nil, submitTimeout: Duration = .zero
    ) {
        self.store = store
        self.submitTimeout = submitTimeout
        self.maxBackgroundWait = maxBackgroundWait
        self.metrics = context.metrics
        self.logger = logger
        self.context = context
        self.health = health ?? StoreHealth(logger: logger)
        let drivers = recovered.map { LifecycleDriver(request: $0.request, batches: $0.batches, registry: self, context: context) }
        live.withLock { live in
            for driver in drivers { Self.add(driver, to: &live) }
        }
        self.recovered.withLock { $0 = drivers }
        context.drain.whenDraining { [weak self] deadline in self?.drainStarted(deadline: deadline) }
    }

    /// Starts the requests found running at start (each goes on in the background).
    /// - Returns: how many.
    @discardableResult
    func startRecovered() -> Int {
        let drivers = recovered.withLock { recovered -> [LifecycleDriver] in
            defer { recovered = [] }
            return recovered
        }
        for driver in drivers { driver.start(recovered: true) }
        return drivers.count
    }

    /// Tells every running request that the gateway drains, and wakes every follower of a
    /// request another replica runs, so that each answers by the drain's deadline.
    private func drainStarted(deadline: ContinuousClock.Instant) {
        let drivers = live.withLock { Array($0.byID.values) }
        for driver in drivers { driver.drainStarted(deadline: deadline) }
        watchers.interrupt()
    }

    /// Stores `request`, unless its client sent its `Idempotency-Key` before (then that request
    /// is returned, as a repeat, a conflict, or resumed when it had given up), or the client is
    /// over a limit. A running request with the same key is joined without reading the store;
    /// callers with the same key take turns at the store, so that a repeat only ever joins a
    /// request that was stored.
    /// - Parameter batches: the request's batches, the first attempt of those that start at
    ///   once marked stored (it is stored with the request).
    func begin(
        _ request: StoredRequest, batches: [LifecycleBatch], limits: AdmissionLimits, deadline: Date
    ) async -> Admission {
        let request = LifecycleDriver(request: request, batches: batches, registry: self, context: context)
        // Known here before its row commits: a lease renewal meanwhile must not take it for lost.
        request.markNotStored()
        guard let key = request.request.idempotencyKey else {
            live.withLock { live in Self.add(request, to: &live) }
            return await admit(request, limits: limits, deadline: deadline)
        }
        let scope = KeyScope(client: request.request.clientName, key: key)
        while true {
            switch live.withLock({ live -> Turn in
                if let earlier = live.byKey[scope] { return .join(earlier) }
                if live.admitting[scope] != nil { return .wait }
                live.admitting[scope] = []
                return .admit
            }) {
            case .join(let earlier):
                return earlier.request.fingerprint == request.request.fingerprint
                    ? .repeated(.running(earlier)) : .conflict(requestID: earlier.request.requestID)
            case .wait:
                await waitForTurn(scope)
            case .admit:
                // Known by its id at once (GET); by its key only once stored.
                live.withLock { live in live.byID[request.request.requestID] = request }
                let admission = await admit(request, limits: limits, deadline: deadline)
                let waiters = live.withLock { live -> [CheckedContinuation<Void, Never>] in
                    if case .new(let stored) = admission, !stored.isStopped { Self.add(stored, to: &live) }
                    return live.admitting.removeValue(forKey: scope) ?? []
                }
                for waiter in waiters { waiter.resume() }
                return admission
            }
        }
    }

    /// What a caller with a key does next.
    private enum Turn {
        case join(LifecycleDriver)
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
    private func admit(_ driver: LifecycleDriver, limits: AdmissionLimits, deadline: Date) async -> Admission {
        let admission: StoreAdmission
        let request = driver.request
        let batches = driver.lifecycle.batches
        do throws(StoreError) {
            try store.checkInPlace()
            admission = try await store.admit(
                record(of: request, deadline: deadline), batches: batches.map { $0.record(date: Self.date) },
                attempts: firstAttempts(of: request, batches: batches), limits: limits,
                events: [RequestEvents.admitted(request)])
        } catch {
            health.failed(error)
            return drop(driver, .storeUnavailable(error))
        }
        health.succeeded()
        switch admission {
        case .admitted:
            metrics.storeWrite(operation: "admit")
            driver.markStored()
            return .new(driver)
        case .tooManyRunning(let limit):
            return drop(driver, .tooManyPending(limit: limit))
        case .tooManyStored(let limit):
            return drop(driver, .tooManyStored(limit: limit))
        case .existing(let snapshot):
            return await existing(snapshot, for: driver, deadline: deadline)
        }
    }

    /// What a request with a key stored earlier (and not running here) gets: its outcome, or
    /// the request resumed.
    private func existing(_ snapshot: StoredRequestSnapshot, for request: LifecycleDriver, deadline: Date) async -> Admission {
        guard snapshot.request.bodyDigest == request.request.fingerprint else {
            return drop(request, .conflict(requestID: snapshot.request.id))
        }
        if snapshot.request.state == .final {
            return drop(request, .repeated(Self.completed(snapshot)))
        }
        // Given up, not submitted, or running without a process: this caller runs it again.
        let now = Date()
        // As at start: a batch whose last attempt has no job id waits out `upstream.timeoutMs`
        // from that attempt (its PUT may still create the job) before it is submitted again.
        let resumable = Self.live(
            snapshot, backgroundUntil: now.addingTimeInterval(maxBackgroundWait.seconds), submitTimeout: submitTimeout)
        let resumed = LifecycleDriver(request: resumable.request, batches: resumable.batches, registry: self, context: context)
        do throws(StoreError) {
            try await store.update(
                requestID: snapshot.request.id, batches: [],
                change: RequestChange(
                    state: .running, at: now, deadline: deadline,
                    backgroundUntil: now.addingTimeInterval(maxBackgroundWait.seconds)),
                events: [])
        } catch {
            if error.kind == .leaseLost, case .ended(_, let document, _) = Self.completed(snapshot) {
                // Another replica runs it: follow it, never submit it twice.
                health.succeeded()
                return drop(request, .elsewhere(requestID: snapshot.request.id, document: document))
            }
            health.failed(error)
            return drop(request, .storeUnavailable(error))
        }
        health.succeeded()
        metrics.storeWrite(operation: "resume")
        live.withLock { live in
            Self.remove(request, from: &live)
            Self.add(resumed, to: &live)
        }
        return .resumed(resumed)
    }

    /// Forgets a request that was not stored, and answers `admission`.
    private func drop(_ request: LifecycleDriver, _ admission: Admission) -> Admission {
        live.withLock { live in Self.remove(request, from: &live) }
        return admission
    }

    /// The request `requestID` of `client` that set `memberStatus` (accept and reject are
    /// separate resources): the running one in memory, else the one in the store.
    /// - Throws: ``StoreError`` when the store cannot be read.
    func find(client: String, memberStatus: MemberStatus, requestID: String) async throws(StoreError) -> KnownRequest? {
        if let running = live.withLock({ $0.byID[requestID] }) {
            let request = running.request
            return request.clientName == client && request.plan.memberStatus == memberStatus ? .running(running) : nil
        }
        let found: StoredRequestSnapshot?
        do throws(StoreError) {
            found = try await store.request(id: requestID)
        } catch {
            health.failed(error)
            throw error
        }
        guard let snapshot = found, snapshot.request.client == client,
            snapshot.request.memberStatus == memberStatus.rawValue
        else { return nil }
        return Self.completed(snapshot)
    }

    /// Stores a request found at start past its background deadline as `given_up`, with its
    /// job ids (a repeat polls them again).
    func storeGivenUp(_ snapshot: StoredRequestSnapshot) async {
        guard case .ended(_, var result, _) = Self.completed(snapshot) else { return }
        result.outcome = RequestOutcome.timedOut
        let change = RequestChange(state: .givenUp, at: Date(), elapsedMs: result.elapsedMs, warnings: result.warnings)
        let events = [RequestEvents.result(result, state: .givenUp)]
        _ = await retrying("final", requestID: snapshot.request.id, until: .now.advanced(by: .seconds(5))) {
            [store] () async throws(StoreError) in
            try await store.update(requestID: snapshot.request.id, batches: [], change: change, events: events)
        }
    }

    /// Forgets a request that is no longer running here (the store has its latest state).
    func forget(_ request: LifecycleDriver) {
        live.withLock { live in Self.remove(request, from: &live) }
    }

    /// Runs `write` until it succeeds, or `until` passes (nil: forever), with backoff from 50 ms
    /// to 5 s; every failure is logged and counted. A `.leaseLost` failure is not retried:
    /// another replica holds the request now.
    /// - Returns: nil when it succeeded, else the last error.
    func retrying(
        _ operation: String, requestID: String, until: ContinuousClock.Instant?,
        _ write: () async throws(StoreError) -> Void
    ) async -> StoreError? {
        var delay = Duration.milliseconds(50)
        while true {
            let failure: StoreError
            do throws(StoreError) {
                try await write()
                metrics.storeWrite(operation: operation)
                health.succeeded()
                // Event streams of this request on this replica read it again (on a shared
                // store the notification reaches the other replicas' streams).
                watchers.changed(requestID)
                return nil
            } catch {
                failure = error
                if error.kind == .leaseLost {
                    health.succeeded()
                    logger.notice(
                        "request taken over by another replica; this one stops working on it",
                        metadata: ["operation": "\(operation)", "request_id": "\(requestID)", "error": "\(error)"])
                    return error
                }
                health.failed(error)
                metrics.storeWriteFailed(operation: operation)
                logger.error(
                    "store write failed; retrying",
                    metadata: ["operation": "\(operation)", "request_id": "\(requestID)", "error": "\(error)"])
            }
            if let until, ContinuousClock.now.advanced(by: delay) >= until { return failure }
            try? await Task.sleep(for: delay)
            delay = min(delay * 2, .seconds(5))
        }
    }

    /// How often a caller following a request that runs on another replica reads it again
    /// while no change notifications arrive (the listener is not connected).
    static let followInterval: Duration = .seconds(1)
    /// The longest a follower waits for a notification before it reads the request anyway
    /// (a safety net: a notification is only lost with the listener's connection, which
    /// resyncs every follower).
    static let notifiedFollowInterval: Duration = .seconds(10)

    /// Waits, as a caller of a request that another replica runs, until the store holds its
    /// end or `deadline` passes (docs/ARCHITECTURE.md, "Repeats on another replica"): reading
    /// it again at each change notification for it (``RequestWatchers``, at least every
    /// ``notifiedFollowInterval``), or every ``followInterval`` while no listener is connected.
    /// - Parameter document: where the request stood last, answered when the store cannot be
    ///   read before the deadline.
    /// - Returns: the stored end (final, not submitted or given up), or at the deadline (or
    ///   once the caller's task is cancelled) the request as it stands, going on.
    func follow(
        requestID: String, from document: MemberStatusResult, until deadline: ContinuousClock.Instant
    ) async -> CallerAnswer {
        var last = document
        watchers.begin(requestID)
        defer { watchers.end(requestID) }
        while true {
            // Read before the store: a change between the read and the wait is not missed.
            let seen = watchers.generation(requestID)
            // One read for every follower of this request that saw the same generation, given up
            // at the caller's (or the drain's) deadline: a stuck query never holds the answer.
            let readBy = min(context.drain.effectiveDeadline(deadline), ContinuousClock.now.advanced(by: Self.notifiedFollowInterval))
            if let snapshot = await watchers.read(requestID, generation: seen, until: readBy, { [store] in try? await store.request(id: requestID) }),
                case .ended(_, let result, let state) = Self.completed(snapshot)
            {
                last = result
                if state != .running {
                    return CallerAnswer(
                        result: result, continuesInBackground: false, cutByDrain: false, isFinal: state == .final,
                        retryAfter: nil, isEnd: true)
                }
            }
            // A drain cuts a follower at its deadline as it cuts the waits running here.
            let now = ContinuousClock.now
            let effective = context.drain.effectiveDeadline(deadline)
            if now >= effective || Task.isCancelled {
                return CallerAnswer(
                    result: last, continuesInBackground: true, cutByDrain: effective < deadline, isFinal: false,
                    retryAfter: nil)
            }
            if watchers.isListening {
                await watchers.wait(
                    for: requestID, after: seen, timeout: min(Self.notifiedFollowInterval, now.duration(to: effective)))
            } else {
                try? await Task.sleep(for: min(Self.followInterval, now.duration(to: effective)))
            }
        }
    }

    /// The requests running here now.
    var running: [LifecycleDriver] {
        live.withLock { Array($0.byID.values) }
    }

    /// Runs requests this replica took over from another (``GatewayStore/claimExpiredLeases(limit:)``):
    /// those past their background deadline are stored `given_up`, the others resume as at start.
    func adopt(_ taken: RecoveredRequests) async {
        for snapshot in taken.expired {
            await storeGivenUp(snapshot)
        }
        let drivers = taken.resumed.map {
            LifecycleDriver(request: $0.request, batches: $0.batches, registry: self, context: context)
        }
        live.withLock { live in
            for driver in drivers { Self.add(driver, to: &live) }
        }
        for driver in drivers { driver.start(recovered: true) }
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

    /// The attempts stored with the request: attempt 1 of each batch that starts at once.
    private func firstAttempts(of request: StoredRequest, batches: [LifecycleBatch]) -> [SubmitAttemptRecord] {
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

    /// A stored request that is not running here, with its document: its outcome when it
    /// ended, else where it stood.
    static func completed(_ snapshot: StoredRequestSnapshot) -> KnownRequest {
        let record = snapshot.request
        let plan = plan(of: record, batches: snapshot.batches)
        let request = StoredRequest(
            requestID: record.id, correlationID: record.correlationID, clientName: record.client, route: record.route,
            plan: plan, idempotencyKey: record.idempotencyKey, started: instant(record.createdAt), createdAt: record.createdAt,
            backgroundUntil: instant(record.backgroundUntil), weight: record.weight)
        let elapsed = record.elapsedMs ?? Int((record.updatedAt.timeIntervalSince(record.createdAt) * 1000).rounded())
        let batches = snapshot.batches.map { LifecycleBatch(record: $0, instant: instant).result }
        return .ended(
            request, MemberStatusResult(requestID: record.id, plan: plan, batches: batches, elapsedMs: elapsed), record.state)
    }

    /// A stored request made live again, to run: batches without a job id that did not end on
    /// their own are queued again; one whose last attempt got no job id is submitted again only
    /// once that attempt is older than `submitTimeout` (with a warning).
    static func live(
        _ snapshot: StoredRequestSnapshot, backgroundUntil: Date, submitTimeout: Duration = .zero
    ) -> ResumableRequest {
        let record = snapshot.request
        var warnings: [String] = []
        let batches = snapshot.batches.map { batchRecord -> LifecycleBatch in
            var batch = LifecycleBatch(record: batchRecord, instant: instant)
            guard batch.jobID == nil, batch.phase == .queued || batch.phase == .notSubmitted || batch.phase == .submitFailed
            else { return batch }
            batch.phase = .queued
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
        let request = StoredRequest(
            requestID: record.id, correlationID: record.correlationID, clientName: record.client, route: record.route,
            plan: plan, idempotencyKey: record.idempotencyKey, started: instant(record.createdAt),
            createdAt: record.createdAt, backgroundUntil: instant(backgroundUntil), weight: record.weight)
        return ResumableRequest(request: request, batches: batches)
    }

    private static func add(_ driver: LifecycleDriver, to live: inout Live) {
        let request = driver.request
        live.byID[request.requestID] = driver
        if let key = request.idempotencyKey { live.byKey[KeyScope(client: request.clientName, key: key)] = driver }
    }

    private static func remove(_ driver: LifecycleDriver, from live: inout Live) {
        let request = driver.request
        if live.byID[request.requestID] === driver { live.byID[request.requestID] = nil }
        if let key = request.idempotencyKey {
            let scope = KeyScope(client: request.clientName, key: key)
            if live.byKey[scope] === driver { live.byKey[scope] = nil }
        }
    }
}

/// A request known to the registry: running here (its driver), or ended (or left by an
/// earlier process) with its document and stored state.
enum KnownRequest: Sendable {
    case running(LifecycleDriver)
    case ended(StoredRequest, MemberStatusResult, RequestState)

    /// What identifies the request.
    var request: StoredRequest {
        switch self {
        case .running(let driver): return driver.request
        case .ended(let request, _, _): return request
        }
    }
}

/// A request an earlier process left, ready to run again: what identifies it and its batches.
struct ResumableRequest: Sendable {
    let request: StoredRequest
    let batches: [LifecycleBatch]
}

extension Duration {
    /// The duration in seconds, with its fraction.
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
