import IMSClient

/// How a whole accept/reject request ended.
public enum RequestOutcome: String, Sendable, Codable {
    /// Every batch's job ended SUCCESS (HTTP 200).
    case succeeded
    /// Some batches succeeded, others failed; none pending (HTTP 502).
    case partiallyFailed = "partially_failed"
    /// No batch succeeded; none pending (HTTP 502).
    case failed
    /// The deadline passed with a batch queued, pending or not submitted (HTTP 504).
    case timedOut = "timed_out"
    /// No batch could be submitted before the deadline: the upstream budget or IMS throttling
    /// (HTTP 429).
    case notSubmitted = "not_submitted"
    /// Its jobs are still being waited on (only in the 202 answer to
    /// `GET .../{request_id}`).
    case running
}

/// Counts over the batches of an answer.
public struct ResultTotals: Sendable, Codable, Equatable {
    /// Images after removing duplicates.
    public var images: Int
    /// Batches (IMS jobs) the images were split into.
    public var batches: Int
    /// Batches whose job ended SUCCESS.
    public var succeeded: Int
    /// Batches whose job ended FAIL (or could not be read for an authentication failure).
    public var failed: Int
    /// Batches whose submit was refused or kept failing.
    public var submitFailed: Int
    /// Batches never sent.
    public var notSubmitted: Int
    /// Batches submitted whose job had not ended at the deadline.
    public var pending: Int
    /// Batches not yet submitted at the deadline (submitted in the background).
    public var queued: Int
    /// IMS calls made for the request: submit attempts plus job queries.
    public var upstreamCalls: Int

    enum CodingKeys: String, CodingKey {
        case images, batches, succeeded, failed, pending, queued
        case submitFailed = "submit_failed"
        case notSubmitted = "not_submitted"
        case upstreamCalls = "upstream_calls"
    }

    init(batches: [BatchResult]) {
        images = batches.reduce(0) { $0 + $1.images.count }
        self.batches = batches.count
        func count(_ state: BatchState) -> Int { batches.filter { $0.state == state }.count }
        succeeded = count(.succeeded)
        failed = count(.failed)
        submitFailed = count(.submitFailed)
        notSubmitted = count(.notSubmitted)
        pending = count(.pending)
        queued = count(.queued)
        upstreamCalls = batches.reduce(0) { $0 + $1.submitAttempts + $1.polls }
    }
}

/// The answer to `POST /accept-images` and `POST /reject-images`: the whole request and each
/// batch (docs/ARCHITECTURE.md, "The answer document"; `openapi.yaml` schema `MemberStatusResult`).
public struct MemberStatusResult: Sendable, Codable, Equatable {
    /// The gateway's id for this request (also the `X-Request-Id` answer header, but in the
    /// answer to an `Idempotency-Key` repeat, which carries the first request's document).
    public var requestID: String
    /// The member project.
    public var projectID: String
    /// `accepted` or `rejected`.
    public var memberStatus: MemberStatus
    /// How the request ended.
    public var outcome: RequestOutcome
    /// Non-fatal notes (duplicates removed).
    public var warnings: [String]
    /// Every batch, in order.
    public var batches: [BatchResult]
    /// Counts over `batches`.
    public var totals: ResultTotals
    /// Time from receiving the request to answering, in milliseconds.
    public var elapsedMs: Int

    enum CodingKeys: String, CodingKey {
        case warnings, batches, totals, outcome
        case requestID = "request_id"
        case projectID = "project_id"
        case memberStatus = "member_status"
        case elapsedMs = "elapsed_ms"
    }

    /// Builds the result from the batches and derives `outcome` and `totals`.
    public init(requestID: String, plan: MemberStatusPlan, batches: [BatchResult], elapsedMs: Int) {
        self.requestID = requestID
        self.projectID = plan.projectID
        self.memberStatus = plan.memberStatus
        self.warnings = plan.warnings
        self.batches = batches
        self.totals = ResultTotals(batches: batches)
        self.elapsedMs = elapsedMs
        self.outcome = Self.outcome(of: totals)
    }

    static func outcome(of totals: ResultTotals) -> RequestOutcome {
        if totals.notSubmitted == totals.batches { return .notSubmitted }
        if totals.pending > 0 || totals.queued > 0 || totals.notSubmitted > 0 { return .timedOut }
        if totals.succeeded == totals.batches { return .succeeded }
        return totals.succeeded == 0 ? .failed : .partiallyFailed
    }

    /// The HTTP status of the answer: 200 (`succeeded`), 502 (`failed`, `partially_failed`),
    /// 504 (`timed_out`), 429 (`not_submitted`: nothing could be sent before the deadline,
    /// because of the upstream budget or IMS throttling), 503 (`not_submitted` because the store
    /// could not be written) or 202 (`running`).
    public var httpStatus: Int {
        switch outcome {
        case .succeeded: return 200
        case .failed, .partiallyFailed: return 502
        case .timedOut: return 504
        case .notSubmitted:
            // Nothing sent because the store could not be written: the gateway's own trouble.
            return batches.allSatisfy({ $0.errorCode == BatchResult.storeUnavailableCode }) ? 503 : 429
        case .running: return 202
        }
    }
}
