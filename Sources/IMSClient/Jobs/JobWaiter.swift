/// What a wait for one job ended with.
public struct JobWaitOutcome: Sendable {
    /// Why the wait ended.
    public enum Ending: Sendable {
        /// The job reached SUCCESS or FAIL; `job` holds it.
        case finished
        /// The deadline passed first; `job` holds the last state seen, if any.
        case deadlinePassed
        /// IMS refused the gateway's credentials even after one refresh and replay.
        case authenticationFailed(IMSClientError)
    }

    /// Why the wait ended.
    public var ending: Ending
    /// The last job state read (final when `ending` is `.finished`).
    public var job: Job? {
        get { jobStorage?.job }
        set { jobStorage = newValue.map(JobStorage.init) }
    }
    /// ShowJob calls made.
    public var polls: Int
    /// The last poll error, when the last poll failed (transport, 5xx, 404, malformed body).
    public var lastError: IMSClientError?
    /// The first poll of the job when it was sent at its scheduled delay (not trimmed to the
    /// deadline) and answered: what ``AdaptivePollPlanner`` learns from.
    public var firstPoll: (delay: Duration, foundFinal: Bool)?

    /// The job, boxed: an outcome is copied many times into the async frames of every waiting
    /// request, so it stays small (56 bytes, not 177; BENCHMARKS.md, "Memory with 10,000 waiting callers").
    private final class JobStorage: Sendable {
        let job: Job
        init(_ job: Job) { self.job = job }
    }

    private var jobStorage: JobStorage?

    /// Creates an outcome (e.g. the starting point of a wait that may be resumed).
    public init(ending: Ending, job: Job? = nil, polls: Int = 0, lastError: IMSClientError? = nil) {
        self.ending = ending
        self.jobStorage = job.map(JobStorage.init)
        self.polls = polls
        self.lastError = lastError
    }
}

/// Polls one job until SUCCESS or FAIL or a deadline.
///
/// Poll errors never end a wait (timeouts, 5xx, 429, 404 right after submit, malformed
/// bodies), and neither does an unknown status word: only the deadline and an authentication
/// failure that survived one refresh and replay do. Time comes from an injected clock.
public struct JobWaiter<C: Clock>: Sendable where C.Duration == Duration {
    private let client: any IMSJobs
    private let schedule: PollSchedule
    private let clock: C

    /// - Parameters:
    ///   - client: what polls: ``IMSClient`` in production, a fake in tests.
    ///   - schedule: when to poll.
    ///   - clock: the clock deadlines are read on (`ContinuousClock` in production). Each poll
    ///     gets the wait's deadline as a `ContinuousClock` instant: the deadline itself on
    ///     `ContinuousClock`, else the time left on `clock` from now.
    public init(client: any IMSJobs, schedule: PollSchedule, clock: C) {
        self.client = client
        self.schedule = schedule
        self.clock = clock
    }

    /// Waits for `jobID` of `projectID` until it is final or `deadline` passes. Task
    /// cancellation ends the wait like a passed deadline. `correlationID` is sent with each poll.
    /// - Parameters:
    ///   - previousPolls: polls an earlier, interrupted wait for the same job already made (its
    ///     `polls`): the schedule goes on from there instead of starting short again, and the
    ///     outcome's `polls` counts them too.
    ///   - schedule: the schedule of this job (a learned one); nil for the waiter's own.
    ///   - caller: the client the job is for (its share of the call budget).
    ///   - priority: read before each poll: its place among the caller's calls in the budget's
    ///     queue (`.poll` while a connected caller waits, `.backgroundPoll` after).
    ///   - onPoll: told the outcome so far after each poll (so that a caller leaving early
    ///     knows the last state read).
    public func wait(
        projectID: String, jobID: String, deadline: C.Instant, previousPolls: Int = 0, correlationID: String? = nil,
        schedule: PollSchedule? = nil, caller: UpstreamCaller = .gateway,
        priority: @Sendable () -> UpstreamPriority = { .poll },
        onPoll: @Sendable (JobWaitOutcome) -> Void = { _ in }
    ) async -> JobWaitOutcome {
        let schedule = schedule ?? self.schedule
        var outcome = JobWaitOutcome(ending: .deadlinePassed, job: nil, polls: previousPolls, lastError: nil)
        var generator = SystemRandomNumberGenerator()
        var index = previousPolls
        while !Task.isCancelled {
            let remaining = clock.now.duration(to: deadline)
            guard remaining > .zero else { return outcome }
            var pause = schedule.delay(beforePoll: index, using: &generator)
            let latest = remaining - schedule.finalPollMargin
            let isLast = pause >= latest
            if isLast { pause = max(.zero, latest) }
            if pause > .zero {
                do {
                    try await clock.sleep(for: pause, tolerance: nil)
                } catch {
                    return outcome
                }
            }
            outcome.polls += 1
            do throws(IMSClientError) {
                let job = try await client.showJob(
                    projectID: projectID, jobID: jobID, deadline: continuousDeadline(deadline),
                    correlationID: correlationID, priority: priority(), caller: caller)
                outcome.job = job
                outcome.lastError = nil
                if index == 0, !isLast { outcome.firstPoll = (pause, job.status.isFinal) }
                if job.status.isFinal {
                    outcome.ending = .finished
                    return outcome
                }
            } catch {
                if case .authentication = error {
                    outcome.ending = .authenticationFailed(error)
                    outcome.lastError = error
                    return outcome
                }
                // Not sent at all (no budget token or no time left): not a poll.
                if case .throttled(nil, _) = error { outcome.polls -= 1 }
                outcome.lastError = error
            }
            onPoll(outcome)
            if isLast { return outcome }
            index += 1
        }
        return outcome
    }

    /// `deadline` on `ContinuousClock`, the clock of ``IMSJobs`` calls.
    private func continuousDeadline(_ deadline: C.Instant) -> ContinuousClock.Instant {
        if let deadline = deadline as? ContinuousClock.Instant { return deadline }
        return ContinuousClock.now.advanced(by: clock.now.duration(to: deadline))
    }
}

extension Duration {
    /// Whole nanoseconds, rounded down.
    public var wholeNanoseconds: Int64 {
        Int64(components.seconds) * 1_000_000_000 + components.attoseconds / 1_000_000_000
    }

    /// Whole milliseconds, rounded down.
    public var wholeMilliseconds: Int {
        let (seconds, attoseconds) = components
        return Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000)
    }
}
