import GatewayStore
import IMSClient

/// What ``RequestLifecycle/handle(_:)`` asks its driver to do, in order. Every step that talks
/// to IMS comes after the store write that lets another process continue after a crash
/// (docs/ARCHITECTURE.md, "State and recovery"): `storeAttempt` before `submit`,
/// `storeFinal` before `answer` of a settled request.
enum LifecycleAction: Sendable, Equatable {
    /// Store submit attempt `attempt` of batch `batch` (then ``LifecycleEvent/submitAttemptStored(batch:attempt:now:)``,
    /// or ``LifecycleEvent/storeWriteFailed(_:_:now:)`` once it cannot be written by `deadline`).
    case storeAttempt(batch: Int, attempt: Int, deadline: ContinuousClock.Instant)
    /// Send the PUT of batch `batch`, bounded by `deadline` (budget wait included).
    case submit(batch: Int, attempt: Int, deadline: ContinuousClock.Instant)
    /// Store the job id IMS gave batch `batch` (retried until it lands; never dropped).
    case storeJobID(batch: Int, jobID: String, attempt: Int)
    /// Poll the job of batch `batch` at `at`, bounded by `deadline`, with `priority` in the budget.
    case schedulePoll(batch: Int, jobID: String, at: ContinuousClock.Instant, deadline: ContinuousClock.Instant, priority: UpstreamPriority)
    /// Answer caller `caller` now.
    case answer(CallerID, CallerAnswer)
    /// The last connected caller was answered: the request goes on in the background.
    case continueInBackground
    /// Store where the request ended (then ``LifecycleEvent/finalStored(now:)`` or a
    /// ``LifecycleEvent/storeWriteFailed(_:_:now:)`` of `.final`).
    case storeFinal(RequestState)
    /// The drain deadline passed: store the batches as they stand, the request still
    /// `running` (the next start resumes it), and stop working on it.
    case storeRunningAndStop
    /// A batch reached a final phase (for the job metrics and logs).
    case batchEnded(batch: Int)
    /// Report an unknown job status word once (the wait goes on).
    case reportUnknownStatus(batch: Int, word: String)
    /// IMS or IAM refused the gateway's credentials (readiness reflects it at once).
    case credentialsRefused(message: String)
    /// The first poll of a job, sent at its planned delay, found the job final or not: what
    /// the poll planner learns from.
    case learnFirstPoll(images: Int, delay: Duration, foundFinal: Bool)
    /// Nothing more will happen: the driver forgets the request.
    case finished
}

/// The answer a caller gets: the request's document at that moment and how to present it.
struct CallerAnswer: Sendable, Equatable {
    /// The document (the precedence of docs/ARCHITECTURE.md, "Answer precedence", gives its status).
    var result: MemberStatusResult
    /// Whether the request goes on in the background after this answer.
    var continuesInBackground: Bool
    /// Whether the drain cut the wait short.
    var cutByDrain: Bool
    /// Whether the answer is the request's final outcome.
    var isFinal: Bool
    /// For a 429: when IMS calls may go again, if known.
    var retryAfter: Duration?
    /// Whether the document is the request's settled end (final, not submitted or given up),
    /// as the lifecycle decided when it made this answer: the driver's audit lines follow it,
    /// not the request's state when the answer is delivered (which a poll may have settled
    /// in between).
    var isEnd = false
    /// ``result`` as JSON (``MemberStatusResult/jsonUTF8``) when the driver already wrote it
    /// for the store's `result` event, nil otherwise. A cache only: not part of the answer's
    /// equality.
    var documentJSON: [UInt8]? = nil

    /// Equal when everything but ``documentJSON`` (the same document written or not) is.
    static func == (lhs: CallerAnswer, rhs: CallerAnswer) -> Bool {
        lhs.result == rhs.result && lhs.continuesInBackground == rhs.continuesInBackground
            && lhs.cutByDrain == rhs.cutByDrain && lhs.isFinal == rhs.isFinal && lhs.retryAfter == rhs.retryAfter
            && lhs.isEnd == rhs.isEnd
    }
}
