import IMSClient

/// Where one batch ended up.
public enum BatchState: String, Sendable, Codable {
    /// Its job ended SUCCESS.
    case succeeded
    /// Its job ended FAIL, or IMS refused the gateway's credentials while waiting.
    case failed
    /// IMS refused the submit (or it kept failing until the retry cap or the deadline).
    case submitFailed = "submit_failed"
    /// Never accepted by IMS: throttled to the deadline, the store could not be written, or the
    /// background wait ended first.
    case notSubmitted = "not_submitted"
    /// Submitted; its job had not ended when the deadline came.
    case pending
    /// Admitted, not yet submitted (IMS has not answered its PUT yet): it is submitted in the
    /// background after the answer.
    case queued
}

/// The result of one batch (one IMS job) in an answer: a view of a ``LifecycleBatch`` made when
/// the answer is.
public struct BatchResult: Sendable, Codable, Equatable {
    /// Position of the batch in the request, from 0.
    public var index: Int
    /// Its images, normalised.
    public var images: [String]
    /// The IMS `job_id`, once submitted.
    public var jobID: String?
    /// The job's `status` word exactly as IMS last sent it.
    public var jobStatus: String?
    /// Where the batch ended up.
    public var state: BatchState
    /// IMS's `error_code`, or the gateway's code for a submit or wait failure.
    public var errorCode: String?
    /// IMS's `fail_reason`, or the gateway's explanation.
    public var failReason: String?
    /// IMS's `begin_time`, as sent.
    public var beginTime: String?
    /// IMS's `end_time`, as sent.
    public var endTime: String?
    /// Per-image outcome from the job's `entities.results`, when IMS gives it.
    public var results: [ImageMemberResult]?
    /// Submit calls made for this batch (more than 1 means retries; each may have left a job).
    public var submitAttempts: Int
    /// Job queries made for this batch.
    public var polls: Int
    /// `error_code` of a batch not sent because the store could not be written.
    public static let storeUnavailableCode = "store_unavailable"

    /// A batch that has not been sent yet.
    public init(index: Int, images: [String]) {
        self.index = index
        self.images = images
        self.state = .notSubmitted
        self.submitAttempts = 0
        self.polls = 0
    }

    enum CodingKeys: String, CodingKey {
        case index, images, state, results, polls
        case jobID = "job_id"
        case jobStatus = "job_status"
        case errorCode = "error_code"
        case failReason = "fail_reason"
        case beginTime = "begin_time"
        case endTime = "end_time"
        case submitAttempts = "submit_attempts"
    }
}
