import IMSClient
import Logging

/// Takes one batch from submit to a final state: submits its IMS job (repeating as
/// ``SubmitRetryPolicy`` allows) and waits for the job until it ends or the deadline passes.
/// While the gateway drains, the deadline is the earlier of the caller's and the drain deadline.
final class BatchRunner: Sendable {
    /// Submits the jobs (``IMSClient`` in production).
    let client: any IMSJobs
    /// Polls jobs, one loop per job however many requests wait on it.
    let pollers: SharedJobPollers<ContinuousClock>
    /// The configured schedule, when nothing is learned.
    let waiterSchedule: PollSchedule
    /// Learns when to send the first poll, per batch size; nil polls on the fixed schedule.
    let planner: AdaptivePollPlanner?
    let retryPolicy: SubmitRetryPolicy
    /// Told when IMS or IAM refuse the credentials, so that `/readyz` reflects it at once.
    let readiness: ReadinessState
    let metrics: GatewayMetrics
    /// Moves the deadline earlier when the gateway drains.
    let drain: DrainController
    let logger: Logger

    /// Creates it from its parts (one per stored property). A class, not a struct: a struct
    /// this size was copied into the async frame of every waiting request
    /// (BENCHMARKS.md, "Memory with 10,000 waiting callers").
    init(
        client: any IMSJobs,
        pollers: SharedJobPollers<ContinuousClock>,
        waiterSchedule: PollSchedule,
        planner: AdaptivePollPlanner?,
        retryPolicy: SubmitRetryPolicy,
        readiness: ReadinessState,
        metrics: GatewayMetrics,
        drain: DrainController,
        logger: Logger
    ) {
        self.client = client
        self.pollers = pollers
        self.waiterSchedule = waiterSchedule
        self.planner = planner
        self.retryPolicy = retryPolicy
        self.readiness = readiness
        self.metrics = metrics
        self.drain = drain
        self.logger = logger
    }

    /// Takes `batch` as far as `deadline` allows: submits it if it has no job yet, then waits
    /// for its job (going on from the polls already made when it was waited on before).
    /// - Parameters:
    ///   - caller: the client the request is for (its share of the IMS call budget).
    ///   - isBackground: whether the request's caller was already answered (its polls go after
    ///     the client's submits in the call budget).
    ///   - progress: told the batch's state once its job is submitted and after every poll.
    ///   - reportsPending: whether a batch still pending at the end counts in the job metrics
    ///     (false when a background wait goes on with it).
    /// - Returns: the batch, `succeeded`, `failed`, `submit_failed`, `not_submitted` or
    ///   `pending`.
    func run(
        _ batch: BatchResult, plan: MemberStatusPlan, deadline: ContinuousClock.Instant, correlationID: String,
        caller: UpstreamCaller, journal: any BatchJournal, isBackground: Bool = false, reportsPending: Bool = true,
        progress: @escaping @Sendable (BatchResult) -> Void = { _ in }
    ) async -> BatchResult {
        var result = batch
        if result.jobID == nil {
            let body = BatchUpdateMembersRequest(
                images: batch.images, projectID: plan.projectID, status: plan.memberStatus, vaultID: plan.vaultID)
            guard
                let jobID = await submit(
                    body, into: &result, deadline: deadline, correlationID: correlationID, caller: caller, journal: journal)
            else { return result }
            result.jobID = jobID
            result.state = .pending
            result.submittedAt = .now
            result.submitNotBefore = nil
            await journal.submitted(result, attempt: result.submitAttempts)
            progress(result)
        }
        guard result.state == .pending, let jobID = result.jobID else { return result }

        let schedule = planner?.schedule(forImages: batch.images.count) ?? waiterSchedule
        let beforeWait = result
        let outcome = await wait(
            projectID: plan.projectID, jobID: jobID, deadline: deadline, previousPolls: result.polls, correlationID: correlationID,
            schedule: schedule, caller: caller, isBackground: isBackground,
            onPoll: { polled in
                var latest = beforeWait
                Self.apply(polled, to: &latest)
                progress(latest)
            })
        if result.polls == 0, let first = outcome.firstPoll {
            planner?.observe(images: batch.images.count, firstDelay: first.delay, foundFinal: first.foundFinal)
        }
        Self.apply(outcome, to: &result)
        if let job = outcome.job, case .unknown(let word) = job.status {
            logger.warning(
                "job status word not known; the wait goes on",
                metadata: ["job_id": "\(jobID)", "status": "\(word)", "correlation_id": "\(correlationID)"])
        }
        defer {
            if result.state != .pending || reportsPending {
                let submitted = result.submittedAt ?? .now
                metrics.job(polls: result.polls, duration: submitted.duration(to: .now), state: result.state.rawValue)
            }
        }
        switch outcome.ending {
        case .finished:
            result.state = outcome.job?.status == .success ? .succeeded : .failed
        case .authenticationFailed(let error):
            readiness.unproven("\(error)")
            result.state = .failed
            result.errorCode = error.errorCode
            result.failReason = "the job could not be read: \(error); it may still finish upstream"
        case .deadlinePassed:
            result.state = .pending
            if result.jobStatus == nil, let error = outcome.lastError {
                result.failReason = "the job could not be read yet: \(error)"
            }
        }
        return result
    }

    /// Copies what a wait learned of the job into `result`: its polls and the last job state.
    private static func apply(_ outcome: JobWaitOutcome, to result: inout BatchResult) {
        result.polls = outcome.polls
        guard let job = outcome.job else { return }
        result.jobStatus = job.rawStatus
        result.beginTime = job.beginTime
        result.endTime = job.endTime
        result.results = job.results
        result.errorCode = job.errorCode
        result.failReason = job.failReason
    }

    /// Waits for the job until it ends or the effective deadline passes. A drain that starts
    /// meanwhile wakes the wait, which goes on (same poll schedule, same last job state) to the
    /// drain deadline, so its last poll still lands just before the wait ends.
    private func wait(
        projectID: String, jobID: String, deadline: ContinuousClock.Instant, previousPolls: Int, correlationID: String,
        schedule: PollSchedule, caller: UpstreamCaller, isBackground: Bool,
        onPoll: @escaping @Sendable (JobWaitOutcome) -> Void
    ) async -> JobWaitOutcome {
        let initial = JobWaitOutcome(ending: .deadlinePassed, job: nil, polls: previousPolls, lastError: nil)
        return await drain.withDrainDeadline(deadline, initial: initial) { [pollers] deadline, previous in
            guard case .deadlinePassed = previous.ending else { return previous }
            var outcome = await pollers.wait(
                projectID: projectID, jobID: jobID, deadline: deadline, previousPolls: previous.polls, correlationID: correlationID,
                schedule: schedule, caller: caller, isBackground: isBackground, onPoll: onPoll)
            if outcome.firstPoll == nil { outcome.firstPoll = previous.firstPoll }
            if outcome.job == nil { outcome.job = previous.job }
            if outcome.polls == previous.polls {
                // No poll since the interruption; the poll it cut short is no news about the job.
                outcome.lastError = previous.lastError.flatMap { Self.isCancellation($0) ? nil : $0 }
            }
            return outcome
        }
    }

    private static func isCancellation(_ error: IMSClientError) -> Bool {
        if case .transport(let transport) = error, transport.kind == .cancelled { return true }
        return false
    }

    /// Submits with retries. Returns the job id, or nil with `result` set to
    /// `submit_failed` / `not_submitted`.
    private func submit(
        _ body: BatchUpdateMembersRequest, into result: inout BatchResult, deadline ownDeadline: ContinuousClock.Instant,
        correlationID: String, caller: UpstreamCaller, journal: any BatchJournal
    ) async -> String? {
        // Read again before each step: a drain moves it earlier. A submit already sent keeps
        // its own timeout, since cutting it short would lose the id of a job it may create.
        var deadline: ContinuousClock.Instant { drain.effectiveDeadline(ownDeadline) }
        var mayExist = false
        var lastError: IMSClientError?
        var storeFailed = false
        if let notBefore = result.submitNotBefore {
            // After a restart: the last attempt's PUT may still be answered until then.
            guard notBefore < deadline else {
                result.state = .notSubmitted
                result.failReason = "an earlier submit attempt may still be answered; the batch is submitted again once it cannot be"
                return nil
            }
            try? await Task.sleep(until: notBefore, tolerance: nil, clock: .continuous)
        }
        while result.submitAttempts < retryPolicy.maxAttempts {
            if let lastError {
                let pause = retryPolicy.delay(beforeAttempt: result.submitAttempts + 1, after: lastError)
                guard ContinuousClock.now.advanced(by: pause) < deadline else { break }
                try? await Task.sleep(for: pause)
            }
            guard ContinuousClock.now < deadline, !Task.isCancelled else { break }
            result.submitAttempts += 1
            if result.submitAttempts > result.storedAttempts {
                // Write-ahead: the attempt is stored before its PUT is sent.
                guard await journal.willSubmit(result, deadline: deadline) else {
                    result.submitAttempts -= 1
                    storeFailed = true
                    break
                }
                result.storedAttempts = result.submitAttempts
            }
            do throws(IMSClientError) {
                // A submit never outlives the caller's wait: one cut short reports that a job
                // may exist, which the answer says.
                return try await client.submit(body, deadline: deadline, correlationID: correlationID, caller: caller)
            } catch {
                lastError = error
                mayExist = mayExist || Self.mayHaveCreatedJob(error)
                logger.warning(
                    "submit failed",
                    metadata: ["batch": "\(result.index)", "attempt": "\(result.submitAttempts)", "error": "\(error)"])
                if case .authentication = error { readiness.unproven("\(error)") }
                if !retryPolicy.isRetryable(error) { break }
            }
        }
        guard let lastError else {
            result.state = .notSubmitted
            if storeFailed {
                result.errorCode = BatchResult.storeUnavailableCode
                result.failReason = "the store could not be written, so the batch was not sent (nothing sent is ever unrecorded)"
            } else {
                result.failReason = "the deadline passed before the batch could be submitted"
            }
            return nil
        }
        if case .throttled(_, let retryAfter) = lastError {
            // Never accepted by IMS: the budget had no room, or IMS answered 429 to the end.
            result.state = .notSubmitted
            result.retryAfter = retryAfter
            result.errorCode = lastError.errorCode
            result.failReason = "\(lastError)" + (mayExist ? "; an earlier attempt may have created an IMS job" : "")
            return nil
        }
        result.state = .submitFailed
        result.errorCode = lastError.errorCode
        var reason = "\(lastError)"
        if mayExist { reason += "; an IMS job may have been created anyway" }
        result.failReason = reason
        return nil
    }

    /// Whether a failed submit may have left a job upstream: IMS may have got the request and
    /// its answer was lost (timeout, reset) or unclear (5xx, a 2xx without `job_id`). An IMS
    /// 4xx, or a refusal by IAM before IMS was called, created nothing.
    private static func mayHaveCreatedJob(_ error: IMSClientError) -> Bool {
        switch error {
        case .transport(let transport): return transport.mayHaveReachedServer
        case .upstream(let upstream): return upstream.service == "IMS" && upstream.isServerError
        case .malformedResponse: return true
        case .authentication, .credentials, .throttled: return false
        }
    }
}
