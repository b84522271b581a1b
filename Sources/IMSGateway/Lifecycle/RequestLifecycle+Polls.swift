import IMSClient

/// Waiting (docs/ARCHITECTURE.md, "Waiting"): each job is polled on its schedule until SUCCESS
/// or FAIL; poll errors and unknown status words never end the wait, an authentication failure
/// that survived one refresh does; a poll that would land after a deadline is moved to just
/// before it, so that the caller is answered with a fresh state.
extension RequestLifecycle {
    /// Asks for the next poll of batch `index`: at `at` when given, else at its schedule's
    /// delay after `now` (trimmed to the next deadline).
    mutating func schedulePoll(
        _ index: Int, jobID: String, at: ContinuousClock.Instant?, now: ContinuousClock.Instant,
        into actions: inout [LifecycleAction]
    ) {
        guard stage == .running else { return }
        let schedule = batches[index].schedule ?? PollSchedule()
        let delay = jittered(schedule, index: index, poll: batches[index].polls)
        var due = at ?? now.advanced(by: delay)
        var trimmed = false
        if at == nil, let deadline = nextDeadline(after: now) {
            let latest = deadline.advanced(by: .zero - settings.finalPollMargin)
            if due > latest {
                due = max(now, latest)
                trimmed = true
            }
        }
        batches[index].plannedPoll = (due, now.duration(to: due), trimmed || at != nil)
        // The call is made for whoever still waits when it is due: a connected caller (the
        // budget's `.poll` place, bounded by the caller's deadline) or the background wait.
        let connected = callers.values.map(effective).filter { due < $0 }
        actions.append(.schedulePoll(
            batch: index, jobID: jobID, at: due,
            deadline: connected.max().map { min($0, workDeadlineIgnoringCallers) } ?? workDeadlineIgnoringCallers,
            priority: connected.isEmpty ? .backgroundPoll : .poll))
    }

    /// The earliest deadline still more than the final-poll margin away: a connected caller's,
    /// else the background (or drain) deadline.
    private func nextDeadline(after now: ContinuousClock.Instant) -> ContinuousClock.Instant? {
        let margin = settings.finalPollMargin
        let candidates = callers.values.map(effective) + [workDeadlineIgnoringCallers]
        return candidates.filter { now.advanced(by: margin) < $0 }.min()
    }

    /// The schedule's delay before poll `poll`, spread by its jitter with a value drawn from the
    /// request, the batch and the poll number (no randomness inside the lifecycle).
    private func jittered(_ schedule: PollSchedule, index: Int, poll: Int) -> Duration {
        let base = schedule.baseDelay(beforePoll: poll)
        guard schedule.jitter > 0 else { return base }
        var mixed = jitterSeed &+ UInt64(index) &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(poll) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
        mixed ^= mixed >> 31
        let unit = Double(mixed >> 11) / Double(1 << 53)  // 0 ..< 1
        return base * (1 - schedule.jitter + 2 * schedule.jitter * unit)
    }

    mutating func polled(
        _ index: Int, _ outcome: PollOutcome, now: ContinuousClock.Instant, into actions: inout [LifecycleAction]
    ) {
        guard stage == .running, batches.indices.contains(index), case .pending(let jobID) = batches[index].phase
        else { return }
        let planned = batches[index].plannedPoll
        batches[index].plannedPoll = nil
        switch outcome {
        case .job(let job):
            batches[index].polls += 1
            batches[index].job = job
            batches[index].errorCode = job.errorCode
            batches[index].failReason = job.failReason
            if batches[index].polls == 1, let planned, !planned.trimmed {
                actions.append(.learnFirstPoll(
                    images: batches[index].images.count, delay: planned.delay, foundFinal: job.status.isFinal))
            }
            if job.status.isFinal {
                batches[index].phase = job.status == .success ? .succeeded : .failed
                release(index, now: now, into: &actions)
                return
            }
            if case .unknown(let word) = job.status, !batches[index].reportedUnknownStatus {
                batches[index].reportedUnknownStatus = true
                actions.append(.reportUnknownStatus(batch: index, word: word))
            }
        case .failed(let message, let sent):
            if sent { batches[index].polls += 1 }
            if batches[index].job == nil { batches[index].failReason = "the job could not be read yet: \(message)" }
        case .authenticationFailed(let code, let message):
            batches[index].polls += 1
            batches[index].phase = .failed
            batches[index].errorCode = code
            batches[index].failReason = "the job could not be read: \(message); it may still finish upstream"
            actions.append(.credentialsRefused(message: message))
            release(index, now: now, into: &actions)
            return
        }
        schedulePoll(index, jobID: jobID, at: nil, now: now, into: &actions)
    }
}
