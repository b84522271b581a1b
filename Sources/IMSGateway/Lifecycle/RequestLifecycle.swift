import GatewayStore
import IMSClient

/// The life of one accept/reject request as a pure state machine (docs/ARCHITECTURE.md, "The
/// request lifecycle"): ``handle(_:)`` takes an event (a submit answered, a job polled, a
/// deadline reached, a store write done) and returns the actions its driver performs (store
/// this, submit that, poll this job at that instant, answer this caller). No I/O, no clock
/// reads, no tasks: every instant comes with its event, so every transition is tested with
/// plain values.
///
/// Stages: `running` (batches being submitted and polled; callers connected or not),
/// `settling` (every batch in a final phase, the end state being stored), `done` (stored and
/// answered) and `stopped` (the drain deadline passed: the request stays `running` in the
/// store and the next start resumes it).
struct RequestLifecycle: Sendable {
    /// The limits a lifecycle works within (from the configuration).
    struct Settings: Sendable, Equatable {
        /// Batches submitted or polled at once per request.
        var fanOut: Int
        /// Submit attempts per batch (per start of the request), the first included.
        var maxSubmitAttempts: Int
        /// How long before a deadline the last poll is sent.
        var finalPollMargin: Duration = .milliseconds(100)
    }

    /// Where the request stands as a whole.
    enum Stage: Sendable, Equatable {
        /// Not started yet (waiting for ``LifecycleEvent/admitted(now:)`` or
        /// ``LifecycleEvent/recovered(now:)``).
        case idle
        case running
        /// Every batch is final; `state` is being stored.
        case settling(RequestState)
        /// Stored (or its write gave up) and every caller answered.
        case done(RequestState)
        /// Cut by the drain deadline; stays `running` in the store.
        case stopped
    }

    let requestID: String
    let plan: MemberStatusPlan
    let settings: Settings
    /// When the request arrived (for `elapsed_ms`).
    let started: ContinuousClock.Instant
    /// When the background wait gives up.
    let backgroundUntil: ContinuousClock.Instant
    /// Mixed into each poll's jitter, so that the polls of many requests do not go in step.
    let jitterSeed: UInt64

    var stage: Stage = .idle
    var batches: [LifecycleBatch]
    /// Connected callers and their own deadlines.
    var callers: [CallerID: ContinuousClock.Instant] = [:]
    var drainDeadline: ContinuousClock.Instant?
    /// Batches holding one of the request's `fanOut` slots (from their first attempt to their
    /// final phase).
    var active: Set<Int> = []
    /// The document of the settled request (frozen when it settled).
    var settledResult: MemberStatusResult?
    /// Whether the request went on in the background (its last caller answered).
    var inBackground = false
    /// Set while the answers of callers whose deadline passed at this instant wait for a
    /// submit bounded by that deadline to report (its event answers them).
    var answersDeferredAt: ContinuousClock.Instant?

    /// A request as admitted (`batches` nil: every batch queued) or as loaded from the store.
    init(
        requestID: String, plan: MemberStatusPlan, settings: Settings, started: ContinuousClock.Instant,
        backgroundUntil: ContinuousClock.Instant, batches: [LifecycleBatch]? = nil
    ) {
        self.requestID = requestID
        self.plan = plan
        self.settings = settings
        self.started = started
        self.backgroundUntil = backgroundUntil
        self.batches = batches ?? plan.batches.enumerated().map { LifecycleBatch(index: $0.offset, images: $0.element) }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in requestID.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        self.jitterSeed = hash
        for index in self.batches.indices { self.batches[index].attemptBase = self.batches[index].submitAttempts }
    }

    /// Whether the request has settled (its end state stored or being stored).
    var isSettled: Bool {
        switch stage {
        case .settling, .done: return true
        case .idle, .running, .stopped: return false
        }
    }

    /// The instant of the next time-driven event (a caller's deadline, the drain deadline, the
    /// background deadline, a submit's backoff), or nil when nothing is due by time; the driver
    /// delivers ``LifecycleEvent/timeReached(now:)`` then.
    var nextWake: ContinuousClock.Instant? {
        var wake: ContinuousClock.Instant?
        func consider(_ instant: ContinuousClock.Instant?) {
            guard let instant else { return }
            wake = wake.map { min($0, instant) } ?? instant
        }
        switch stage {
        case .running:
            for deadline in callers.values {
                let due = effective(deadline)
                if let deferred = answersDeferredAt, due <= deferred { continue }
                consider(due)
            }
            consider(drainDeadline)
            // A submit out is bounded by the background deadline: its report gives the
            // request up then (no wake that would find nothing to do).
            if !hasSubmitInFlight { consider(backgroundUntil) }
            for index in active where batches[index].phase == .queued { consider(batches[index].submitNotBefore) }
        case .settling:
            for deadline in callers.values { consider(effective(deadline)) }
        case .idle, .done, .stopped:
            break
        }
        return wake
    }

    /// The document as it stands at `now` (the settled one once settled).
    func document(now: ContinuousClock.Instant) -> MemberStatusResult {
        if let settledResult { return settledResult }
        return MemberStatusResult(
            requestID: requestID, plan: plan, batches: batches.map(\.result),
            elapsedMs: started.duration(to: now).wholeMilliseconds)
    }

    /// Takes one event and returns what the driver does next, in order.
    mutating func handle(_ event: LifecycleEvent) -> [LifecycleAction] {
        var actions: [LifecycleAction] = []
        let now: ContinuousClock.Instant?
        switch event {
        case .admitted(let at), .recovered(let at):
            guard stage == .idle else { return [] }
            stage = .running
            now = at
            if case .recovered = event {
                for index in batches.indices {
                    guard case .pending(let jobID) = batches[index].phase else { continue }
                    active.insert(index)
                    schedulePoll(index, jobID: jobID, at: at, now: at, into: &actions)
                }
            }
            fillSlots(now: at, into: &actions)
        case .callerJoined(let id, let deadline, let at):
            now = at
            join(id, deadline: deadline, now: at, into: &actions)
        case .callerLeft(let id):
            now = nil
            callers[id] = nil
            if callers.isEmpty, stage == .running, !inBackground {
                inBackground = true
                actions.append(.continueInBackground)
            }
        case .submitAttemptStored(let index, let attempt, let at):
            now = at
            attemptStored(index, attempt: attempt, now: at, into: &actions)
        case .jobIDReceived(let index, let jobID, let schedule, let at):
            now = at
            jobIDReceived(index, jobID: jobID, schedule: schedule, now: at, into: &actions)
        case .submitFailed(let index, let failure, let at):
            now = at
            submitFailed(index, failure, now: at, into: &actions)
        case .jobPolled(let index, let outcome, let at):
            now = at
            polled(index, outcome, now: at, into: &actions)
        case .timeReached(let at):
            now = at
            timeReached(now: at, into: &actions)
        case .drainStarted(let deadline, let at):
            now = at
            if drainDeadline == nil { drainDeadline = deadline }
        case .storeWriteFailed(let write, let error, let at):
            now = at
            storeWriteFailed(write, error, now: at, into: &actions)
        case .finalStored(let at):
            now = at
            finishSettling(now: at, into: &actions)
        }
        if let now {
            if stage == .running, backgroundUntil <= now { giveUp(now: now, into: &actions) }
            settleIfDone(now: now, into: &actions)
            answerDueCallers(now: now, into: &actions)
        }
        return actions
    }

    // MARK: - Callers

    /// The deadline a caller works to: its own, or the drain deadline when that is earlier.
    func effective(_ deadline: ContinuousClock.Instant) -> ContinuousClock.Instant {
        drainDeadline.map { min($0, deadline) } ?? deadline
    }

    /// The deadline of the work going on now: the latest connected caller's (a submit that
    /// waits for budget past it would answer nobody), else the background deadline; never past
    /// the drain deadline.
    var workDeadline: ContinuousClock.Instant {
        let background = drainDeadline.map { min($0, backgroundUntil) } ?? backgroundUntil
        guard let latest = callers.values.max() else { return background }
        return min(effective(latest), background)
    }

    private mutating func join(
        _ id: CallerID, deadline: ContinuousClock.Instant, now: ContinuousClock.Instant, into actions: inout [LifecycleAction]
    ) {
        switch stage {
        case .done(let state):
            var end = answer(now: now, isFinal: state == .final)
            end.isEnd = true
            actions.append(.answer(id, end))
        case .stopped:
            actions.append(.answer(id, answer(now: now, isFinal: false, cutByDrain: true)))
        case .idle, .running, .settling:
            callers[id] = deadline
            inBackground = false
        }
    }

    /// Answers every caller whose deadline has passed, unless a submit bounded by that
    /// deadline is about to report (so that a 429 for a budget that had no room is answered
    /// as such, not as a 504).
    private mutating func answerDueCallers(now: ContinuousClock.Instant, into actions: inout [LifecycleAction]) {
        answersDeferredAt = nil
        guard stage == .running || isSettled else { return }
        let due = callers.filter { effective($0.value) <= now }
        guard !due.isEmpty else { return }
        if stage == .running,
            batches.contains(where: { if case .submitting = $0.phase, let d = $0.submitDeadline, d <= now { return true }; return false })
        {
            answersDeferredAt = now
            return
        }
        let goesOn = stage == .running && now < backgroundUntil && (drainDeadline.map { now < $0 } ?? true)
        for (id, own) in due.sorted(by: { $0.key.value < $1.key.value }) {
            callers[id] = nil
            let cut = drainDeadline.map { $0 < own && $0 <= now } ?? false
            if let settledResult {
                actions.append(.answer(id, CallerAnswer(
                    result: settledResult, continuesInBackground: false, cutByDrain: false,
                    isFinal: settledState == .final, retryAfter: throttledRetryAfter, isEnd: true)))
            } else {
                actions.append(.answer(id, answer(now: now, isFinal: false, cutByDrain: cut, continues: goesOn)))
            }
        }
        if callers.isEmpty, stage == .running, !inBackground, goesOn {
            inBackground = true
            actions.append(.continueInBackground)
        }
    }

    /// The state being stored or stored, once settled.
    var settledState: RequestState? {
        switch stage {
        case .settling(let state), .done(let state): return state
        case .idle, .running, .stopped: return nil
        }
    }

    /// When IMS calls may go again, the longest wait any throttled batch was told.
    var throttledRetryAfter: Duration? { batches.compactMap(\.retryAfter).max() }

    private func answer(
        now: ContinuousClock.Instant, isFinal: Bool, cutByDrain: Bool = false, continues: Bool = false
    ) -> CallerAnswer {
        CallerAnswer(
            result: document(now: now), continuesInBackground: continues, cutByDrain: cutByDrain, isFinal: isFinal,
            retryAfter: throttledRetryAfter)
    }

    // MARK: - Time

    private mutating func timeReached(now: ContinuousClock.Instant, into actions: inout [LifecycleAction]) {
        guard stage == .running else { return }
        if let drainDeadline, drainDeadline <= now {
            // Cut by the drain: every caller gets where it stands; the next start resumes it.
            for id in callers.keys.sorted(by: { $0.value < $1.value }) {
                actions.append(.answer(id, answer(now: now, isFinal: false, cutByDrain: true)))
            }
            callers = [:]
            stage = .stopped
            actions.append(.storeRunningAndStop)
            actions.append(.finished)
            return
        }
        if backgroundUntil <= now {
            giveUp(now: now, into: &actions)
            return
        }
        for index in active.sorted() where batches[index].phase == .queued {
            if let notBefore = batches[index].submitNotBefore, notBefore > now { continue }
            startAttempt(index, now: now, into: &actions)
        }
    }

    /// Whether a batch's PUT is out (sent, not answered yet): its answer may carry a job id.
    var hasSubmitInFlight: Bool {
        batches.contains { batch in
            if case .submitting = batch.phase, batch.submitDeadline != nil { return true }
            return false
        }
    }

    /// The background deadline passed: batches not sent end `not_submitted` and the request
    /// settles `given_up` (or `not_submitted`), but only once no PUT is out, so that a job id
    /// IMS gives at the last moment is in the end state (a repeat polls it, never submits again).
    private mutating func giveUp(now: ContinuousClock.Instant, into actions: inout [LifecycleAction]) {
        guard stage == .running, !hasSubmitInFlight else { return }
        for index in batches.indices {
            switch batches[index].phase {
            case .queued:
                break
            case .submitting(let attempt):
                // Its attempt is still being stored: it is never sent.
                batches[index].submitAttempts = attempt - 1
            default:
                continue
            }
            batches[index].phase = .notSubmitted
            if batches[index].failReason == nil {
                batches[index].failReason = "the wait ended (wait.maxBackgroundSeconds) before the batch could be submitted"
            }
        }
        settle(now: now, into: &actions, givenUp: true)
    }

    // MARK: - Settling

    /// Settles the request once every batch is final.
    private mutating func settleIfDone(now: ContinuousClock.Instant, into actions: inout [LifecycleAction]) {
        guard stage == .running, batches.allSatisfy(\.phase.isTerminal) else { return }
        settle(now: now, into: &actions, givenUp: false)
    }

    /// Freezes the document and asks for the end state to be stored: `final` when every batch
    /// has a final state of its own, `not_submitted` when nothing ever reached IMS (a repeat
    /// submits again), else `given_up` (a repeat polls the jobs again and submits only the
    /// batches without a job id).
    private mutating func settle(now: ContinuousClock.Instant, into actions: inout [LifecycleAction], givenUp: Bool) {
        let state: RequestState
        if !givenUp, batches.allSatisfy({ $0.phase != .notSubmitted }) {
            state = .final
        } else if batches.allSatisfy({ $0.jobID == nil && !$0.mayHaveCreatedJob && !$0.phase.isFinalOfItsOwn }) {
            state = .notSubmitted
        } else {
            state = .givenUp
        }
        settledResult = document(now: now)
        stage = .settling(state)
        actions.append(.storeFinal(state))
    }

    private mutating func finishSettling(now: ContinuousClock.Instant, into actions: inout [LifecycleAction]) {
        guard case .settling(let state) = stage, let settledResult else { return }
        stage = .done(state)
        for id in callers.keys.sorted(by: { $0.value < $1.value }) {
            actions.append(.answer(id, CallerAnswer(
                result: settledResult, continuesInBackground: false, cutByDrain: false, isFinal: state == .final,
                retryAfter: throttledRetryAfter, isEnd: true)))
        }
        callers = [:]
        actions.append(.finished)
    }

    private mutating func storeWriteFailed(
        _ write: StoreWrite, _ error: StoreError, now: ContinuousClock.Instant, into actions: inout [LifecycleAction]
    ) {
        switch write {
        case .final:
            // The caller still gets the real outcome; the driver goes on writing it.
            finishSettling(now: now, into: &actions)
        case .attempt(let index, let attempt):
            guard stage == .running, batches.indices.contains(index), batches[index].phase == .submitting(attempt: attempt)
            else { return }
            batches[index].phase = .notSubmitted
            batches[index].submitAttempts = attempt - 1
            batches[index].errorCode = BatchResult.storeUnavailableCode
            batches[index].failReason =
                "the store could not be written (\(error)), so the batch was not sent (nothing sent is ever unrecorded)"
            release(index, now: now, into: &actions)
        }
    }
}

extension LifecycleBatch.Phase {
    /// Whether the batch ended with a state of its own (its job's, or IMS's refusal).
    var isFinalOfItsOwn: Bool {
        switch self {
        case .succeeded, .failed, .submitFailed: return true
        case .queued, .submitting, .pending, .notSubmitted: return false
        }
    }
}
