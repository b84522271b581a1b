import IMSClient

/// Submitting (docs/ARCHITECTURE.md, "Submitting"): at most `fanOut` batches of a request hold a
/// slot at once, from their first attempt to their final phase; each attempt is stored before
/// its PUT is sent; retryable failures go again after their backoff, within the retry cap and
/// the background deadline.
extension RequestLifecycle {
    /// Gives free slots to queued batches, in order.
    mutating func fillSlots(now: ContinuousClock.Instant, into actions: inout [LifecycleAction]) {
        guard stage == .running else { return }
        for index in batches.indices where active.count < max(1, settings.fanOut) {
            guard !active.contains(index), batches[index].phase == .queued else { continue }
            active.insert(index)
            if let notBefore = batches[index].submitNotBefore, notBefore > now { continue }
            startAttempt(index, now: now, into: &actions)
        }
    }

    /// A batch leaves its slot (it reached a final phase); the next queued one takes it.
    mutating func release(_ index: Int, now: ContinuousClock.Instant, into actions: inout [LifecycleAction]) {
        active.remove(index)
        actions.append(.batchEnded(batch: index))
        fillSlots(now: now, into: &actions)
    }

    /// Starts the next attempt of a queued batch: stored first, unless the store already has it.
    mutating func startAttempt(_ index: Int, now: ContinuousClock.Instant, into actions: inout [LifecycleAction]) {
        let attempt = batches[index].submitAttempts + 1
        batches[index].phase = .submitting(attempt: attempt)
        batches[index].submitAttempts = attempt
        batches[index].submitNotBefore = nil
        if attempt <= batches[index].storedAttempts {
            send(index, attempt: attempt, into: &actions)
        } else {
            batches[index].submitDeadline = nil
            actions.append(.storeAttempt(batch: index, attempt: attempt, deadline: workDeadline))
        }
    }

    private mutating func send(_ index: Int, attempt: Int, into actions: inout [LifecycleAction]) {
        let deadline = workDeadline
        batches[index].submitDeadline = deadline
        actions.append(.submit(batch: index, attempt: attempt, deadline: deadline))
    }

    mutating func attemptStored(
        _ index: Int, attempt: Int, now: ContinuousClock.Instant, into actions: inout [LifecycleAction]
    ) {
        guard batches.indices.contains(index) else { return }
        batches[index].storedAttempts = max(batches[index].storedAttempts, attempt)
        // Stored after the background deadline: never sent (the request is given up instead).
        guard stage == .running, batches[index].phase == .submitting(attempt: attempt), now < backgroundUntil
        else { return }
        send(index, attempt: attempt, into: &actions)
    }

    mutating func jobIDReceived(
        _ index: Int, jobID: String, schedule: PollSchedule, now: ContinuousClock.Instant,
        into actions: inout [LifecycleAction]
    ) {
        guard batches.indices.contains(index) else { return }
        let attempt = batches[index].submitAttempts
        // Whatever the stage: a job id is never dropped.
        actions.append(.storeJobID(batch: index, jobID: jobID, attempt: attempt))
        guard batches[index].jobID == nil else { return }
        batches[index].jobID = jobID
        batches[index].submitDeadline = nil
        guard stage == .running, case .submitting = batches[index].phase else { return }
        batches[index].phase = .pending(jobID: jobID)
        batches[index].submittedAt = now
        batches[index].schedule = schedule
        batches[index].errorCode = nil
        batches[index].failReason = nil
        batches[index].retryAfter = nil
        // Past the background deadline the request is given up with this job id (no poll).
        guard now < backgroundUntil else { return }
        schedulePoll(index, jobID: jobID, at: nil, now: now, into: &actions)
    }

    mutating func submitFailed(
        _ index: Int, _ failure: SubmitFailure, now: ContinuousClock.Instant, into actions: inout [LifecycleAction]
    ) {
        // After a drain stop or a settle the batch stays as stored (the next start resumes it).
        guard stage == .running, batches.indices.contains(index), case .submitting = batches[index].phase else { return }
        var batch = batches[index]
        batch.submitDeadline = nil
        batch.mayHaveCreatedJob = batch.mayHaveCreatedJob || failure.mayHaveCreatedJob
        batch.errorCode = failure.errorCode
        let mayExist = batch.mayHaveCreatedJob
        switch failure.kind {
        case .retryable(let delay)
        where stage == .running && batch.submitAttempts - batch.attemptBase < settings.maxSubmitAttempts
            && now.advanced(by: delay) < workDeadlineIgnoringCallers:
            batch.phase = .queued
            batch.submitNotBefore = now.advanced(by: delay)
            batch.failReason = failure.message + (mayExist ? "; an IMS job may have been created anyway" : "")
            batches[index] = batch
            return
        case .throttled(let retryAfter):
            // Never accepted by IMS: the budget had no room, or IMS answered 429 to the end.
            batch.phase = .notSubmitted
            batch.retryAfter = retryAfter
            batch.failReason = failure.message + (mayExist ? "; an earlier attempt may have created an IMS job" : "")
        case .final(let authentication):
            if authentication { actions.append(.credentialsRefused(message: failure.message)) }
            batch.phase = .submitFailed
            batch.failReason = failure.message + (mayExist ? "; an IMS job may have been created anyway" : "")
        case .retryable:
            batch.phase = .submitFailed
            batch.failReason = failure.message + (mayExist ? "; an IMS job may have been created anyway" : "")
        }
        batches[index] = batch
        release(index, now: now, into: &actions)
    }

    /// The deadline retries may go on to: the background deadline (or the drain deadline). A
    /// retry past a connected caller's deadline happens in the background.
    var workDeadlineIgnoringCallers: ContinuousClock.Instant {
        drainDeadline.map { min($0, backgroundUntil) } ?? backgroundUntil
    }
}
