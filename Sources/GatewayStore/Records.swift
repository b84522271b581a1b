import Foundation

/// Where a stored request stands.
public enum RequestState: String, Sendable, Codable, CaseIterable {
    /// Not final: some batch is queued, submitting or pending; resumed at start.
    case running
    /// Every batch has a final state; the outcome a repeat gets.
    case final
    /// The background wait ended (`wait.maxBackgroundSeconds`) with jobs still pending; a
    /// repeat polls them again.
    case givenUp = "given_up"
    /// Nothing could be submitted (upstream budget or IMS throttling); a repeat submits again.
    case notSubmitted = "not_submitted"
}

/// One accept/reject request as stored (table `requests`).
public struct RequestRecord: Sendable, Equatable {
    /// The gateway's request id (a UUID it made).
    public var id: String
    /// The client's name from the clients file.
    public var client: String
    /// The route it came to, e.g. `/accept-images`.
    public var route: String
    /// The caller's `Idempotency-Key`, if it sent one.
    public var idempotencyKey: String?
    /// SHA-256 (hex) of what makes two bodies the same request.
    public var bodyDigest: String
    /// `accepted` or `rejected`.
    public var memberStatus: String
    /// The member project (32 lower-case hex characters).
    public var projectID: String
    /// The CBR vault id (accept only).
    public var vaultID: String?
    /// The caller's correlation id (its `X-Request-Id`, or one the gateway made).
    public var correlationID: String
    /// The warnings of the answer known at admission (duplicates removed).
    public var warnings: [String]
    /// The caller's weight in the IMS call budget when it arrived.
    public var weight: Double
    /// When the request arrived.
    public var createdAt: Date
    /// When the caller stops waiting.
    public var deadline: Date
    /// When the background wait for its jobs gives up.
    public var backgroundUntil: Date
    /// Where it stands.
    public var state: RequestState
    /// Events appended so far (the id of the last one).
    public var eventCounter: Int64
    /// When it was last written.
    public var updatedAt: Date
    /// When it left `running`; nil while running.
    public var finishedAt: Date?
    /// `elapsed_ms` of its answer once it left `running`.
    public var elapsedMs: Int?

    /// Creates a record from every field.
    public init(
        id: String, client: String, route: String, idempotencyKey: String?, bodyDigest: String, memberStatus: String,
        projectID: String, vaultID: String?, correlationID: String, warnings: [String], weight: Double, createdAt: Date,
        deadline: Date, backgroundUntil: Date, state: RequestState, eventCounter: Int64 = 0, updatedAt: Date,
        finishedAt: Date? = nil, elapsedMs: Int? = nil
    ) {
        self.id = id
        self.client = client
        self.route = route
        self.idempotencyKey = idempotencyKey
        self.bodyDigest = bodyDigest
        self.memberStatus = memberStatus
        self.projectID = projectID
        self.vaultID = vaultID
        self.correlationID = correlationID
        self.warnings = warnings
        self.weight = weight
        self.createdAt = createdAt
        self.deadline = deadline
        self.backgroundUntil = backgroundUntil
        self.state = state
        self.eventCounter = eventCounter
        self.updatedAt = updatedAt
        self.finishedAt = finishedAt
        self.elapsedMs = elapsedMs
    }
}

/// One batch (one IMS job) of a stored request (table `batches`).
public struct BatchRecord: Sendable, Equatable {
    /// Position in the request, from 0.
    public var index: Int
    /// Its images, normalised.
    public var images: [String]
    /// The gateway's batch state word: `queued`, `submitting`, `pending`, `succeeded`,
    /// `failed`, `submit_failed`, `not_submitted`.
    public var state: String
    /// The IMS job id once IMS gave one.
    public var jobID: String?
    /// The job's status word as IMS last sent it.
    public var jobStatus: String?
    /// Job queries made.
    public var polls: Int
    /// Submit calls made.
    public var submitAttempts: Int
    /// IMS's `error_code`, or the gateway's.
    public var errorCode: String?
    /// IMS's `fail_reason`, or the gateway's explanation.
    public var failReason: String?
    /// IMS's `begin_time`, as sent.
    public var beginTime: String?
    /// IMS's `end_time`, as sent.
    public var endTime: String?
    /// Per-image results as a JSON array, as the gateway encoded them; nil when IMS gave none.
    public var resultsJSON: String?
    /// When its job was submitted.
    public var submittedAt: Date?

    /// Creates a record from every field.
    public init(
        index: Int, images: [String], state: String, jobID: String? = nil, jobStatus: String? = nil, polls: Int = 0,
        submitAttempts: Int = 0, errorCode: String? = nil, failReason: String? = nil, beginTime: String? = nil,
        endTime: String? = nil, resultsJSON: String? = nil, submittedAt: Date? = nil
    ) {
        self.index = index
        self.images = images
        self.state = state
        self.jobID = jobID
        self.jobStatus = jobStatus
        self.polls = polls
        self.submitAttempts = submitAttempts
        self.errorCode = errorCode
        self.failReason = failReason
        self.beginTime = beginTime
        self.endTime = endTime
        self.resultsJSON = resultsJSON
        self.submittedAt = submittedAt
    }
}

/// One PUT sent for a batch (table `submit_attempts`): stored before it is sent, its job id
/// once IMS answered.
public struct SubmitAttemptRecord: Sendable, Equatable {
    /// The request it belongs to.
    public var requestID: String
    /// The batch's index.
    public var batchIndex: Int
    /// 1 for the first attempt of the batch, then 2, ...
    public var attempt: Int
    /// When it was about to be sent.
    public var startedAt: Date
    /// The job id IMS answered with; nil until then (or for good when it never answered).
    public var jobID: String?

    /// Creates a record from every field.
    public init(requestID: String, batchIndex: Int, attempt: Int, startedAt: Date, jobID: String? = nil) {
        self.requestID = requestID
        self.batchIndex = batchIndex
        self.attempt = attempt
        self.startedAt = startedAt
        self.jobID = jobID
    }
}

/// An event to append to a request's log; the store gives it its id.
public struct NewEvent: Sendable, Equatable {
    /// The event's name, e.g. `admitted`, `batch`, `result`.
    public var kind: String
    /// Its payload, a JSON document.
    public var data: String

    /// Creates an event.
    public init(kind: String, data: String) {
        self.kind = kind
        self.data = data
    }
}

/// One event of a request's log (table `request_events`).
public struct RequestEvent: Sendable, Equatable {
    /// The request it belongs to.
    public var requestID: String
    /// Its id, from 1, in the order the transitions committed.
    public var id: Int64
    /// Its name.
    public var kind: String
    /// Its payload, a JSON document.
    public var data: String
    /// When it was stored.
    public var createdAt: Date

    /// Creates an event from every field.
    public init(requestID: String, id: Int64, kind: String, data: String, createdAt: Date) {
        self.requestID = requestID
        self.id = id
        self.kind = kind
        self.data = data
        self.createdAt = createdAt
    }
}

/// A request with its batches (in index order) and its submit attempts (by batch, then
/// attempt).
public struct StoredRequestSnapshot: Sendable, Equatable {
    /// The request.
    public var request: RequestRecord
    /// Its batches.
    public var batches: [BatchRecord]
    /// Its submit attempts.
    public var attempts: [SubmitAttemptRecord]

    /// Creates a snapshot.
    public init(request: RequestRecord, batches: [BatchRecord], attempts: [SubmitAttemptRecord]) {
        self.request = request
        self.batches = batches
        self.attempts = attempts
    }
}

/// A change of a request's own row.
public struct RequestChange: Sendable, Equatable {
    /// Its new state.
    public var state: RequestState
    /// When it was made (`updated_at`, and `finished_at` when `state` is not `running`;
    /// `finished_at` is cleared when it is).
    public var at: Date
    /// `elapsed_ms` of its answer (kept when nil).
    public var elapsedMs: Int?
    /// A new caller deadline (kept when nil).
    public var deadline: Date?
    /// A new background deadline (kept when nil).
    public var backgroundUntil: Date?
    /// The answer's warnings, when they changed (kept when nil): a resubmission after a
    /// restart adds one.
    public var warnings: [String]?

    /// Creates a change.
    public init(
        state: RequestState, at: Date, elapsedMs: Int? = nil, deadline: Date? = nil, backgroundUntil: Date? = nil,
        warnings: [String]? = nil
    ) {
        self.state = state
        self.at = at
        self.elapsedMs = elapsedMs
        self.deadline = deadline
        self.backgroundUntil = backgroundUntil
        self.warnings = warnings
    }
}

/// The bounds checked when a request is admitted.
public struct AdmissionLimits: Sendable, Equatable {
    /// Most requests of the client in state `running`.
    public var maxRunning: Int
    /// Most requests of the client stored at all (running and finished).
    public var maxStored: Int

    /// Creates limits.
    public init(maxRunning: Int, maxStored: Int) {
        self.maxRunning = maxRunning
        self.maxStored = maxStored
    }
}

/// What ``GatewayStore/admit(_:batches:attempts:limits:events:)`` did.
public enum Admission: Sendable, Equatable {
    /// Stored.
    case admitted
    /// The client stored a request under the same `Idempotency-Key` before; nothing stored.
    case existing(StoredRequestSnapshot)
    /// The client has `limit` running requests already; nothing stored.
    case tooManyRunning(limit: Int)
    /// The client has `limit` stored requests already; nothing stored.
    case tooManyStored(limit: Int)
}

/// How many requests a client has stored.
public struct ClientRequestCounts: Sendable, Equatable {
    /// All of them.
    public var stored: Int
    /// Those in state `running`.
    public var running: Int

    /// Creates counts.
    public init(stored: Int, running: Int) {
        self.stored = stored
        self.running = running
    }
}
