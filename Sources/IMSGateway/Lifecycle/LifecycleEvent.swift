import GatewayStore
import IMSClient

/// What happened to a request, as ``RequestLifecycle/handle(_:)`` takes it. Every event carries
/// the instant it happened (`now`): the lifecycle reads no clock.
enum LifecycleEvent: Sendable {
    /// The request and its batches were stored (with attempt 1 of the batches that start at
    /// once): submitting may begin.
    case admitted(now: ContinuousClock.Instant)
    /// A request an earlier process left running was loaded from the store; its batches carry
    /// what the store had (jobs with a job id are polled again).
    case recovered(now: ContinuousClock.Instant)
    /// A caller waits for the request until `deadline` (the first caller, or a repeat).
    case callerJoined(CallerID, deadline: ContinuousClock.Instant, now: ContinuousClock.Instant)
    /// A caller went away (its connection closed) before it was answered.
    case callerLeft(CallerID)
    /// The store has submit attempt `attempt` of batch `batch`: its PUT may be sent.
    case submitAttemptStored(batch: Int, attempt: Int, now: ContinuousClock.Instant)
    /// IMS answered the PUT of batch `batch` with `jobID`.
    case jobIDReceived(batch: Int, jobID: String, schedule: PollSchedule, now: ContinuousClock.Instant)
    /// The PUT of batch `batch` failed.
    case submitFailed(batch: Int, SubmitFailure, now: ContinuousClock.Instant)
    /// A job query of batch `batch` answered (or failed).
    case jobPolled(batch: Int, PollOutcome, now: ContinuousClock.Instant)
    /// A time-driven event is due (see ``RequestLifecycle/nextWake``): caller deadlines
    /// reached, the drain deadline reached, the background wait given up, a submit's backoff
    /// over. The lifecycle handles everything due at `now`.
    case timeReached(now: ContinuousClock.Instant)
    /// The gateway started draining: everything ends by `deadline`.
    case drainStarted(deadline: ContinuousClock.Instant, now: ContinuousClock.Instant)
    /// A store write failed for good (after its retries).
    case storeWriteFailed(StoreWrite, StoreError, now: ContinuousClock.Instant)
    /// The final (or given-up, not-submitted) state is stored.
    case finalStored(now: ContinuousClock.Instant)
}

/// Which caller of a request (the first one, or a repeat that joined it).
struct CallerID: Hashable, Sendable {
    var value: Int
}

/// A store write the lifecycle asked for.
enum StoreWrite: Sendable, Equatable {
    /// Submit attempt `attempt` of batch `batch`, before its PUT.
    case attempt(batch: Int, attempt: Int)
    /// The final state of the request.
    case final
}

/// A failed PUT, classified by the driver (``SubmitRetryPolicy``) so that the lifecycle stays
/// free of randomness.
struct SubmitFailure: Sendable, Equatable {
    /// What to do about it.
    enum Kind: Sendable, Equatable {
        /// Worth another attempt after `delay` (backoff with jitter, or IMS's `Retry-After`).
        case retryable(delay: Duration)
        /// Not sent, or never accepted, before its deadline because of throttling; `retryAfter`
        /// is when IMS calls may go again, if known.
        case throttled(retryAfter: Duration?)
        /// Final: an IMS 4xx, or IAM refused the gateway's credentials.
        case final(authentication: Bool)
    }

    var kind: Kind
    /// The code for the answer (`IMG.0024`, `transport.timeout`, ...).
    var errorCode: String
    /// The explanation for the answer.
    var message: String
    /// Whether IMS may have created a job anyway (a timeout after sending, a 5xx).
    var mayHaveCreatedJob: Bool
}

/// What a job query gave.
enum PollOutcome: Sendable, Equatable {
    /// IMS answered with the job's state.
    case job(Job)
    /// The query failed in a way that never ends a wait (timeout, 5xx, 429, 404 right after
    /// submit, a malformed body); `sent` is false when it never left (no budget token in time).
    case failed(message: String, sent: Bool)
    /// IMS refused the gateway's credentials even after one refresh and replay: ends the wait.
    case authenticationFailed(errorCode: String, message: String)
}
