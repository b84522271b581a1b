import IMSClient

/// One batch (one IMS job) as ``RequestLifecycle`` works on it (docs/ARCHITECTURE.md, "The
/// request lifecycle"). Its phase is the lifecycle's own type; the answer's ``BatchResult`` is a
/// view made from it.
struct LifecycleBatch: Sendable, Equatable {
    /// Where a batch stands.
    enum Phase: Sendable, Equatable {
        /// Admitted, not being submitted now: waiting for a fan-out slot, for a retry's backoff,
        /// or (after a restart) for an earlier attempt's PUT to be unable to answer.
        case queued
        /// Submit attempt `attempt` is stored and its PUT is being sent (or waits for the budget).
        case submitting(attempt: Int)
        /// Submitted: IMS gave `jobID`; its job is polled until it ends.
        case pending(jobID: String)
        /// Its job ended SUCCESS.
        case succeeded
        /// Its job ended FAIL, or IMS refused the gateway's credentials while it was read.
        case failed
        /// IMS refused the submit, or it kept failing up to the retry cap.
        case submitFailed
        /// Never accepted by IMS: throttled to the deadline, the store could not be written, or
        /// the background deadline came first.
        case notSubmitted

        /// Whether nothing more happens to the batch.
        var isTerminal: Bool {
            switch self {
            case .succeeded, .failed, .submitFailed, .notSubmitted: return true
            case .queued, .submitting, .pending: return false
            }
        }
    }

    /// Position of the batch in the request, from 0.
    var index: Int
    /// Its images, normalised.
    var images: [String]
    var phase: Phase = .queued
    /// The IMS job id once IMS gave one (kept in the final phases too).
    var jobID: String?
    /// Submit attempts made (each one stored before it was sent).
    var submitAttempts = 0
    /// `submitAttempts` when this process started the batch: the retry cap counts from here, so
    /// that a request resumed by a repeat gets its attempts again.
    var attemptBase = 0
    /// Submit attempts already in the store (attempt 1 of the batches that start at once is
    /// stored with the request itself).
    var storedAttempts = 0
    /// Job queries sent.
    var polls = 0
    /// The last job state read.
    var job: Job?
    /// IMS's `error_code`, or the gateway's code for a submit or wait failure.
    var errorCode: String?
    /// IMS's `fail_reason`, or the gateway's explanation.
    var failReason: String?
    /// Whether a failed attempt may have created a job anyway.
    var mayHaveCreatedJob = false
    /// No submit before this instant: a retry's backoff, or after a restart the time an earlier
    /// attempt's PUT can no longer be answered.
    var submitNotBefore: ContinuousClock.Instant?
    /// When IMS calls may go again, for a batch throttled (the 429's `Retry-After`).
    var retryAfter: Duration?
    /// The deadline the submit in flight was given (it returns by then).
    var submitDeadline: ContinuousClock.Instant?
    /// When its job was submitted (for the job-duration metric).
    var submittedAt: ContinuousClock.Instant?
    /// The poll schedule of its job, chosen when the job id came.
    var schedule: PollSchedule?
    /// When the poll in flight or due was planned for, and whether it was trimmed to a
    /// deadline (a trimmed first poll teaches the planner nothing).
    var plannedPoll: (at: ContinuousClock.Instant, delay: Duration, trimmed: Bool)?
    /// Whether an unknown job status word was already reported.
    var reportedUnknownStatus = false

    /// A batch of `images` at `index`, queued.
    init(index: Int, images: [String]) {
        self.index = index
        self.images = images
    }

    static func == (lhs: LifecycleBatch, rhs: LifecycleBatch) -> Bool {
        lhs.index == rhs.index && lhs.images == rhs.images && lhs.phase == rhs.phase && lhs.jobID == rhs.jobID
            && lhs.submitAttempts == rhs.submitAttempts && lhs.storedAttempts == rhs.storedAttempts && lhs.polls == rhs.polls
            && lhs.job == rhs.job && lhs.errorCode == rhs.errorCode && lhs.failReason == rhs.failReason
            && lhs.submitNotBefore == rhs.submitNotBefore && lhs.retryAfter == rhs.retryAfter
    }

    /// The batch's `state` in the answer document (``result``), without building the rest.
    var resultState: BatchState {
        switch phase {
        case .queued, .submitting: return .queued
        case .pending: return .pending
        case .succeeded: return .succeeded
        case .failed: return .failed
        case .submitFailed: return .submitFailed
        case .notSubmitted: return .notSubmitted
        }
    }

    /// The batch as the answer shows it (docs/ARCHITECTURE.md, "The answer document"):
    /// `queued` while not yet submitted (also while an attempt is in flight), `pending` once
    /// its job runs.
    var result: BatchResult {
        var result = BatchResult(index: index, images: images)
        result.state = resultState
        result.jobID = jobID
        result.jobStatus = job?.rawStatus
        result.beginTime = job?.beginTime
        result.endTime = job?.endTime
        result.results = job?.results
        result.errorCode = errorCode
        result.failReason = failReason
        result.submitAttempts = submitAttempts
        result.polls = polls
        return result
    }
}
