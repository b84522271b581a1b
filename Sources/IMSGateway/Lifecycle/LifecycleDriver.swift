import Foundation
import GatewayStore
import IMSClient
import Logging
import Synchronization

/// Runs one request's ``RequestLifecycle`` (docs/ARCHITECTURE.md, "The request lifecycle"):
/// feeds it events and performs its actions against ``IMSJobs``, the ``GatewayStore`` (through
/// the ``RequestRegistry``) and the ``JobScheduler``. A waiting caller holds one suspended task
/// (``wait(until:)``); polls and timers live in the scheduler's queue, and each store write or
/// IMS call is a short task of its own.
final class LifecycleDriver: Sendable {
    /// What identifies the request.
    let request: StoredRequest
    private let registry: RequestRegistry
    private let context: LifecycleContext

    private struct State {
        var lifecycle: RequestLifecycle
        var waiters: [CallerID: CheckedContinuation<CallerAnswer, Never>] = [:]
        /// Each waiting caller's deadline, for ``leaseLost()``.
        var deadlines: [CallerID: ContinuousClock.Instant] = [:]
        /// Another replica took the request over (``leaseLost()``): no more events, actions or
        /// writes here.
        var stopped = false
        /// Whether the request's row is committed in the store (a new request: once its
        /// admission committed; a loaded one: always). Only such requests can be missing from
        /// a lease renewal because another replica took them.
        var stored = true
        var nextCaller = 0
        var inBackground = false
        /// The caller that started the request (``wait(until:starting:)``), none for a request
        /// resumed at start.
        var starter: CallerID?
        /// Whether the starter was answered with the settled document: its controller then
        /// writes the audit lines. Otherwise (a 504 and a background wait, a request resumed
        /// at start; repeats that join write none) the driver writes them when it ends.
        var starterGotSettled = false
        /// What each batch's last stored `batch` event (or its state at admission) showed: a
        /// change of it is stored as a progress event (docs/ARCHITECTURE.md, "Progress events").
        var reported: [Int: ProgressMark] = [:]
        /// The last write of the serial chain (progress, final, drain): each waits for the one
        /// before, so that a batch row never goes back to an older state.
        var lastWrite: Task<Void, Never>?
        /// Writes chained so far: tells whether ``lastWrite`` is still the last one.
        var writesChained = 0
        /// The settled document and its JSON, as the final write stored it in the `result`
        /// event: the callers answered with that document get the same bytes instead of a
        /// second writing of them.
        var settledJSON: (result: MemberStatusResult, json: [UInt8])?
    }

    /// What a `batch` event is stored for: a job id, a new job status word or a new state (a
    /// poll that changes only the poll count is not).
    struct ProgressMark: Equatable {
        var jobID: String?
        var jobStatus: String?
        var state: BatchState

        /// Read from the batch itself: this runs for every batch at each event of a request,
        /// so it builds no ``BatchResult``.
        init(_ batch: LifecycleBatch) {
            jobID = batch.jobID
            jobStatus = batch.job?.rawStatus
            state = batch.resultState
        }
    }

    private let state: Mutex<State>

    /// A driver for `request`, its batches as they stand (all queued for a new request).
    init(request: StoredRequest, batches: [LifecycleBatch], registry: RequestRegistry, context: LifecycleContext) {
        self.request = request
        self.registry = registry
        self.context = context
        // A batch loaded with its job id polls on the configured (or learned) schedule.
        let batches = batches.map { batch in
            var batch = batch
            if batch.jobID != nil, batch.schedule == nil {
                batch.schedule = context.planner?.schedule(forImages: batch.images.count) ?? context.pollSchedule
            }
            return batch
        }
        var initial = State(lifecycle: RequestLifecycle(
            requestID: request.requestID, plan: request.plan, settings: context.settings, started: request.started,
            backgroundUntil: request.backgroundUntil, batches: batches))
        for batch in initial.lifecycle.batches { initial.reported[batch.index] = ProgressMark(batch) }
        self.state = Mutex(initial)
    }

    /// The lifecycle as it stands (for tests and `GET`).
    var lifecycle: RequestLifecycle { state.withLock { $0.lifecycle } }

    /// The request's document as it stands now.
    func current() -> MemberStatusResult {
        let now = context.now
        return state.withLock { $0.lifecycle.document(now: now) }
    }

    /// Whether the request has settled (its end state stored or being stored).
    var isSettled: Bool { state.withLock { $0.lifecycle.isSettled } }

    /// Whether the request's row is committed in the store (see ``State/stored``).
    var isStored: Bool { state.withLock { $0.stored } }

    /// Whether another replica took the request over (``leaseLost()``).
    var isStopped: Bool { state.withLock { $0.stopped } }

    /// A new request, not committed yet: ``markStored()`` once its admission commits.
    func markNotStored() { state.withLock { $0.stored = false } }

    /// The request's admission committed.
    func markStored() { state.withLock { $0.stored = true } }

    /// Starts the request: stored just now (`recovered` false) or loaded from the store.
    func start(recovered: Bool) {
        let now = context.now
        if let drainDeadline = context.drain.drainDeadline {
            send(.drainStarted(deadline: drainDeadline, now: now))
        }
        send(recovered ? .recovered(now: now) : .admitted(now: now))
    }

    /// Waits, as one more caller, until the request settles or `deadline` passes; with
    /// `starting`, the caller is the one that starts the request (it joins first, so that the
    /// first submits are bounded by its deadline).
    /// - Returns: the answer for this caller. When its task is cancelled (the connection
    ///   closed), it returns at once with the document as it stands.
    func wait(until deadline: ContinuousClock.Instant, starting: Bool = false) async -> CallerAnswer {
        let id = state.withLock { state -> CallerID in
            state.nextCaller += 1
            let id = CallerID(value: state.nextCaller)
            if starting { state.starter = id }
            state.deadlines[id] = deadline
            return id
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<CallerAnswer, Never>) in
                send(.callerJoined(id, deadline: deadline, now: context.now), waiter: (id, continuation))
                if starting { start(recovered: false) }
            }
        } onCancel: {
            send(.callerLeft(id))
            let now = context.now
            let (waiter, document) = state.withLock { state in
                state.deadlines[id] = nil
                return (state.waiters.removeValue(forKey: id), state.lifecycle.document(now: now))
            }
            waiter?.resume(returning: CallerAnswer(
                result: document, continuesInBackground: true, cutByDrain: false, isFinal: false, retryAfter: nil))
        }
    }

    /// The gateway started draining.
    func drainStarted(deadline: ContinuousClock.Instant) {
        send(.drainStarted(deadline: deadline, now: context.now))
    }

    /// Feeds one event and performs the actions it gives, then sets the request's timer.
    func send(_ event: LifecycleEvent, waiter: (CallerID, CheckedContinuation<CallerAnswer, Never>)? = nil) {
        let stopped = state.withLock { state -> (CheckedContinuation<CallerAnswer, Never>, ContinuousClock.Instant, MemberStatusResult)?? in
            guard state.stopped else { return nil }
            guard let (id, continuation) = waiter else { return .some(nil) }
            let deadline = state.deadlines.removeValue(forKey: id) ?? context.now
            return (continuation, deadline, state.lifecycle.document(now: context.now))
        }
        if let stopped {
            // Taken over by another replica: a caller that joins now follows it in the store.
            if let (continuation, deadline, document) = stopped {
                Task { [registry, request] in
                    continuation.resume(returning: await registry.follow(
                        requestID: request.requestID, from: document, until: deadline))
                }
            }
            return
        }
        let (actions, wake) = state.withLock { state -> ([LifecycleAction], ContinuousClock.Instant?) in
            if let (id, continuation) = waiter {
                if Task.isCancelled {
                    continuation.resume(returning: CallerAnswer(
                        result: state.lifecycle.document(now: context.now), continuesInBackground: true, cutByDrain: false,
                        isFinal: false, retryAfter: nil))
                    return ([], state.lifecycle.nextWake)
                }
                state.waiters[id] = continuation
            }
            let actions = state.lifecycle.handle(event)
            return (actions, state.lifecycle.nextWake)
        }
        context.scheduler.setTimer(request.requestID, at: wake) { [weak self] now in
            self?.send(.timeReached(now: now))
        }
        for action in actions { perform(action) }
        storeProgress()
    }

    // MARK: - Progress events

    /// Stores a `batch` event for every batch whose job id, job status word or state changed
    /// since its last event, with its row, while the request runs (a settled request's final
    /// write carries them). Retried for a few seconds, then dropped with a log line: the final
    /// write stores the batches as they end anyway.
    private func storeProgress() {
        let changed = state.withLock { state -> [LifecycleBatch] in
            guard !state.stopped, state.stored, !state.lifecycle.isSettled, case .running = state.lifecycle.stage else {
                return []
            }
            return Self.unreported(&state)
        }
        guard !changed.isEmpty else { return }
        let records = changed.map { $0.record(date: RequestRegistry.date) }
        let events = changed.map { RequestEvents.batch($0.result) }
        chain { [registry, request] in
            let failure = await registry.retrying(
                "progress", requestID: request.requestID, until: .now.advanced(by: .seconds(3))
            ) { [store = registry.store] () async throws(StoreError) in
                try await store.update(requestID: request.requestID, batches: records, change: nil, events: events)
            }
            if failure?.kind == .leaseLost { self.leaseLost() }
        }
    }

    /// The batches whose ``ProgressMark`` moved since their last event, marked reported.
    private static func unreported(_ state: inout State) -> [LifecycleBatch] {
        var changed: [LifecycleBatch] = []
        for batch in state.lifecycle.batches {
            let mark = ProgressMark(batch)
            guard state.reported[batch.index] != mark else { continue }
            state.reported[batch.index] = mark
            changed.append(batch)
        }
        return changed
    }

    /// Runs `write` after every write chained before it. The last write's task is let go once
    /// it has ended: a task kept referenced keeps its frames' memory (about 3 KB), for as long
    /// as the request waits.
    private func chain(_ write: @escaping @Sendable () async -> Void) {
        state.withLock { state in
            let previous = state.lastWrite
            state.writesChained += 1
            let number = state.writesChained
            state.lastWrite = Task { [self] in
                await previous?.value
                await write()
                self.state.withLock { state in
                    if state.writesChained == number { state.lastWrite = nil }
                }
            }
        }
    }

    // MARK: - Actions

    private func perform(_ action: LifecycleAction) {
        switch action {
        case .storeAttempt(let index, let attempt, let deadline):
            storeAttempt(index, attempt: attempt, deadline: deadline)
        case .submit(let index, let attempt, let deadline):
            submit(index, attempt: attempt, deadline: deadline)
        case .storeJobID(let index, let jobID, let attempt):
            storeJobID(index, jobID: jobID, attempt: attempt)
        case .schedulePoll(let index, let jobID, let at, let deadline, let priority):
            context.scheduler.schedule(
                JobScheduler.Poll(
                    projectID: request.plan.projectID, jobID: jobID, deadline: deadline,
                    correlationID: request.correlationID, priority: priority, caller: request.upstreamCaller),
                at: at, subscriber: "\(request.requestID)#\(index)",
                deliver: { [self] outcome, now in send(.jobPolled(batch: index, outcome, now: now)) })
        case .answer(let id, var answer):
            let waiter = state.withLock { state in
                if answer.isEnd, id == state.starter { state.starterGotSettled = true }
                if answer.isEnd, let settled = state.settledJSON, settled.result == answer.result {
                    answer.documentJSON = settled.json
                }
                state.deadlines[id] = nil
                return state.waiters.removeValue(forKey: id)
            }
            waiter?.resume(returning: answer)
        case .continueInBackground:
            // Counted once per request: a repeat that joins and times out again is the same wait.
            let first = state.withLock { state in
                defer { state.inBackground = true }
                return !state.inBackground
            }
            if first { context.metrics.backgroundWaits(+1) }
        case .storeFinal(let end):
            storeFinal(end)
        case .storeRunningAndStop:
            storeRunningAndStop()
        case .batchEnded(let index):
            let batch = state.withLock { $0.lifecycle.batches[index] }
            if let submitted = batch.submittedAt {
                context.metrics.job(polls: batch.polls, duration: submitted.duration(to: context.now), state: batch.result.state.rawValue)
            }
        case .reportUnknownStatus(let index, let word):
            let jobID = state.withLock { $0.lifecycle.batches[index].jobID } ?? ""
            context.logger.warning(
                "job status word not known; the wait goes on",
                metadata: ["job_id": "\(jobID)", "status": "\(word)", "correlation_id": "\(request.correlationID)"])
        case .credentialsRefused(let message):
            context.readiness.unproven(message)
        case .learnFirstPoll(let images, let delay, let foundFinal):
            context.planner?.observe(images: images, firstDelay: delay, foundFinal: foundFinal)
        case .finished:
            finished()
        }
    }

    private func storeAttempt(_ index: Int, attempt: Int, deadline: ContinuousClock.Instant) {
        let (record, attemptRecord) = state.withLock { state in
            (state.lifecycle.batches[index].record(date: RequestRegistry.date),
             SubmitAttemptRecord(requestID: request.requestID, batchIndex: index, attempt: attempt, startedAt: Date()))
        }
        Task { [registry] in
            let failure = await registry.retrying("attempt", requestID: request.requestID, until: deadline) {
                [store = registry.store] () async throws(StoreError) in
                try await store.recordAttempt(attemptRecord, batch: record, events: [])
            }
            if let failure, failure.kind == .leaseLost {
                leaseLost()
            } else if let failure {
                send(.storeWriteFailed(.attempt(batch: index, attempt: attempt), failure, now: context.now))
            } else {
                send(.submitAttemptStored(batch: index, attempt: attempt, now: context.now))
            }
        }
    }

    private func submit(_ index: Int, attempt: Int, deadline: ContinuousClock.Instant) {
        let images = state.withLock { $0.lifecycle.batches[index].images }
        let plan = request.plan
        let body = BatchUpdateMembersRequest(
            images: images, projectID: plan.projectID, status: plan.memberStatus, vaultID: plan.vaultID)
        Task { [context, request] in
            do throws(IMSClientError) {
                let jobID = try await context.jobs.submit(
                    body, deadline: deadline, correlationID: request.correlationID, caller: request.upstreamCaller)
                let schedule = context.planner?.schedule(forImages: images.count) ?? context.pollSchedule
                send(.jobIDReceived(batch: index, jobID: jobID, schedule: schedule, now: context.now))
            } catch {
                context.logger.warning(
                    "submit failed",
                    metadata: ["batch": "\(index)", "attempt": "\(attempt)", "error": "\(error)",
                               "correlation_id": "\(request.correlationID)"])
                send(.submitFailed(batch: index, context.classify(error, beforeAttempt: attempt + 1), now: context.now))
            }
        }
    }

    /// Stores a job id: a few quick tries inline, then in the background until the store has
    /// it (the final write carries it too, and a late job-id write never replaces a newer state).
    private func storeJobID(_ index: Int, jobID: String, attempt: Int) {
        let batch = state.withLock { state in
            let batch = state.lifecycle.batches[index]
            state.reported[index] = ProgressMark(batch)
            return batch
        }
        var record = batch.record(date: RequestRegistry.date)
        if record.jobID == nil {
            record.jobID = jobID
            record.state = "pending"
        }
        var shown = batch.result
        if shown.jobID == nil {
            shown.jobID = jobID
            shown.state = .pending
        }
        let event = RequestEvents.batch(shown)
        let write = { [store = registry.store, request] () async throws(StoreError) in
            try await store.recordJobID(
                jobID, requestID: request.requestID, batchIndex: index, attempt: attempt, batch: record, events: [event])
        }
        Task { [registry, request] in
            let soon = ContinuousClock.now.advanced(by: .milliseconds(500))
            if await registry.retrying("job_id", requestID: request.requestID, until: soon, write) == nil {
                #if DEBUG
                DebugFaultPoint.afterJobIDStored.hit()
                #endif
                return
            }
            _ = await registry.retrying("job_id", requestID: request.requestID, until: nil, write)
        }
    }

    /// Stores where the request ended, before its callers are answered: retried for up to
    /// ``RequestRegistry/finalWriteGrace``, then answered anyway and retried in the background
    /// until it lands (the request stays known here until then).
    private func storeFinal(_ end: RequestState) {
        let now = context.now
        let (batches, result, ended) = state.withLock { state in
            (state.lifecycle.batches.map { $0.record(date: RequestRegistry.date) }, state.lifecycle.document(now: now),
             Self.unreported(&state))
        }
        let change = RequestChange(state: end, at: Date(), elapsedMs: result.elapsedMs, warnings: result.warnings)
        let json = result.jsonUTF8
        state.withLock { $0.settledJSON = (result, json) }
        // The batches that changed in this last step, then the result: one transaction.
        let events = ended.map { RequestEvents.batch($0.result) } + [RequestEvents.result(result, json: json, state: end)]
        chain { [self, registry, request] in
            let write = { [store = registry.store] () async throws(StoreError) in
                try await store.update(requestID: request.requestID, batches: batches, change: change, events: events)
            }
            let grace = ContinuousClock.now.advanced(by: RequestRegistry.finalWriteGrace)
            let failure = await registry.retrying("final", requestID: request.requestID, until: grace, write)
            if let failure, failure.kind == .leaseLost {
                // The new owner's outcome is the one stored: the callers get it.
                self.leaseLost()
                return
            } else if let failure {
                self.send(.storeWriteFailed(.final, failure, now: self.context.now))
                if await registry.retrying("final", requestID: request.requestID, until: nil, write)?.kind == .leaseLost {
                    self.leaseLost()
                    return
                }
            } else {
                #if DEBUG
                if end == .final { DebugFaultPoint.afterFinalStored.hit() }
                #endif
                self.send(.finalStored(now: self.context.now))
            }
            registry.forget(self)
        }
    }

    /// The drain cut the request: its batches are stored as they stand (the request stays
    /// `running`, the next start resumes it) and its polls are dropped.
    private func storeRunningAndStop() {
        let batches = state.withLock { $0.lifecycle.batches }
        for batch in batches {
            if let jobID = batch.jobID {
                context.scheduler.unsubscribe("\(request.requestID)#\(batch.index)", projectID: request.plan.projectID, jobID: jobID)
            }
        }
        let records = batches.map { $0.record(date: RequestRegistry.date) }
        chain { [registry, request] in
            _ = await registry.retrying("running", requestID: request.requestID, until: .now.advanced(by: .seconds(5))) {
                [store = registry.store] () async throws(StoreError) in
                try await store.update(requestID: request.requestID, batches: records, change: nil, events: [])
            }
            registry.forget(self)
        }
    }

    /// Another replica took the request over (its lease expired here: this replica was cut
    /// off from the store, or paused, longer than `store.leaseSeconds`): this replica stops
    /// polling it and submitting for it, forgets it, and answers each still-waiting caller
    /// from the store, where the new owner's outcome lands (docs/ARCHITECTURE.md, "Replicas").
    func leaseLost() {
        let now = context.now
        let taken = state.withLock { state -> (waiters: [(CheckedContinuation<CallerAnswer, Never>, ContinuousClock.Instant)], batches: [LifecycleBatch], document: MemberStatusResult, background: Bool)? in
            guard !state.stopped else { return nil }
            state.stopped = true
            let waiters = state.waiters.map { id, continuation in (continuation, state.deadlines[id] ?? now) }
            state.waiters = [:]
            state.deadlines = [:]
            return (waiters, state.lifecycle.batches, state.lifecycle.document(now: now), state.inBackground)
        }
        guard let taken else { return }
        context.scheduler.setTimer(request.requestID, at: nil, fire: { _ in })
        for batch in taken.batches {
            if let jobID = batch.jobID {
                context.scheduler.unsubscribe("\(request.requestID)#\(batch.index)", projectID: request.plan.projectID, jobID: jobID)
            }
        }
        if taken.background { context.metrics.backgroundWaits(-1) }
        context.metrics.leasesLost(1)
        registry.forget(self)
        for (continuation, deadline) in taken.waiters {
            Task { [registry, request] in
                continuation.resume(returning: await registry.follow(
                    requestID: request.requestID, from: taken.document, until: deadline))
            }
        }
    }

    private func finished() {
        let (wasBackground, starterGotSettled, lifecycle) = state.withLock {
            ($0.inBackground, $0.starterGotSettled, $0.lifecycle)
        }
        context.scheduler.setTimer(request.requestID, at: nil, fire: { _ in })
        if wasBackground { context.metrics.backgroundWaits(-1) }
        guard lifecycle.settledState != nil else { return }
        let result = lifecycle.document(now: context.now)
        context.metrics.requestEnded(upstreamCalls: result.totals.upstreamCalls)
        // The caller that started it did not get the end (a background wait, a request resumed
        // at start, whether or not a repeat joined it): its audit lines are written here.
        if !starterGotSettled {
            context.log.answered(
                result, status: result.httpStatus, client: request.clientName, route: request.route, source: .background,
                requestID: request.requestID)
        }
    }
}
