import Foundation

/// The state of an IMS asynchronous job, as ShowJob (`GET /v1/{project_id}/jobs/{job_id}`,
/// doc ims_03_0905_1) or ShowJobProgress (`GET /v1/cloudimages/job/{job_id}`, doc ims_03_0911)
/// report it.
///
/// Decoding is liberal (docs/IMS-API.md, "Job queries"): `status` in any letter case, `FAILED`
/// for `FAIL`; missing or empty fields; times kept as the strings IMS sent; `entities` absent,
/// empty or with unknown fields.
public struct Job: Sendable, Equatable {
    /// The parsed status.
    public var status: JobStatus
    /// `status` exactly as IMS sent it, nil when absent.
    public var rawStatus: String?
    /// `job_id`.
    public var jobID: String?
    /// `job_type`, e.g. `imsUpdateImageMembersJob`.
    public var jobType: String?
    /// `begin_time`, as sent (no fixed format).
    public var beginTime: String?
    /// `end_time`, as sent; nil while running (IMS sends "").
    public var endTime: String?
    /// `error_code` (or `entities.error_code`), e.g. `IMG.0104`.
    public var errorCode: String?
    /// `fail_reason` (or `entities.error`), IMS's explanation of a failure.
    public var failReason: String?
    /// `entities.results`: per-image outcome, when IMS gives it.
    public var results: [ImageMemberResult]?

    /// Creates a job value.
    public init(
        status: JobStatus, rawStatus: String? = nil, jobID: String? = nil, jobType: String? = nil,
        beginTime: String? = nil, endTime: String? = nil, errorCode: String? = nil,
        failReason: String? = nil, results: [ImageMemberResult]? = nil
    ) {
        self.status = status
        self.rawStatus = rawStatus
        self.jobID = jobID
        self.jobType = jobType
        self.beginTime = beginTime
        self.endTime = endTime
        self.errorCode = errorCode
        self.failReason = failReason
        self.results = results
    }

    /// Most characters kept of a short field IMS sends (status word, ids, times, codes).
    public static let maxShortFieldCharacters = 256
    /// Most characters kept of `fail_reason` (or the `entities` error text it falls back to).
    public static let maxFailReasonCharacters = 2048
    /// Most entries kept of `entities.results`.
    public static let maxResults = 10_000

    /// Decodes a ShowJob or ShowJobProgress response body (docs/IMS-API.md, "Job queries").
    /// A hostile or broken upstream cannot grow what the gateway keeps: short fields are cut to
    /// ``maxShortFieldCharacters``, `fail_reason` to ``maxFailReasonCharacters`` and
    /// `entities.results` to ``maxResults`` entries.
    /// - Returns: nil when the body is not a JSON object at all.
    public static func decode(_ body: [UInt8]) -> Job? {
        guard let object = LenientJSON.object(body) else { return nil }
        let entities = object["entities"] as? [String: Any] ?? [:]
        func short(_ value: Any?) -> String? { LenientJSON.string(value, maxLength: maxShortFieldCharacters) }
        func reason(_ value: Any?) -> String? { LenientJSON.string(value, maxLength: maxFailReasonCharacters) }
        let rawStatus = short(object["status"])
        var results: [ImageMemberResult]?
        if let list = entities["results"] as? [Any] {
            results = list.prefix(maxResults).compactMap { item in
                guard let item = item as? [String: Any] else { return nil }
                return ImageMemberResult(
                    imageID: short(item["image_id"]), projectID: short(item["project_id"]), status: short(item["status"]))
            }
        }
        return Job(
            status: JobStatus(rawStatus),
            rawStatus: rawStatus,
            jobID: short(object["job_id"]),
            jobType: short(object["job_type"]),
            beginTime: short(object["begin_time"]),
            endTime: short(object["end_time"]),
            errorCode: short(object["error_code"]) ?? short(entities["error_code"]),
            failReason: reason(object["fail_reason"]) ?? reason(entities["error"]) ?? reason(entities["addition_error_msg"]),
            results: results)
    }
}

/// One entry of a job's `entities.results`: what happened to one image of the batch.
public struct ImageMemberResult: Sendable, Equatable, Codable {
    /// `image_id`.
    public var imageID: String?
    /// `project_id` (the member project).
    public var projectID: String?
    /// `status` as IMS sent it (e.g. `success`, `failed`).
    public var status: String?

    /// Creates a result.
    public init(imageID: String?, projectID: String?, status: String?) {
        self.imageID = imageID
        self.projectID = projectID
        self.status = status
    }

    enum CodingKeys: String, CodingKey {
        case imageID = "image_id"
        case projectID = "project_id"
        case status
    }
}

/// A job's `status` word, parsed case-insensitively.
public enum JobStatus: Sendable, Equatable {
    /// `INIT`: accepted, not started.
    case initializing
    /// `RUNNING`.
    case running
    /// `SUCCESS` (also `success`, `SUCCEEDED`).
    case success
    /// `FAIL` (also `FAILED`, `failed`, `FAILURE`).
    case failure
    /// A word we do not know: not final, reported as is.
    case unknown(String)
    /// No `status` field: not final.
    case missing

    /// Parses the upstream word.
    public init(_ raw: String?) {
        guard let raw, !raw.isEmpty else {
            self = .missing
            return
        }
        switch raw.trimmingWhitespace().uppercased() {
        case "INIT": self = .initializing
        case "RUNNING": self = .running
        case "SUCCESS", "SUCCEEDED", "SUCCEED": self = .success
        case "FAIL", "FAILED", "FAILURE": self = .failure
        default: self = .unknown(raw)
        }
    }

    /// Whether the job has ended (SUCCESS or FAIL).
    public var isFinal: Bool {
        self == .success || self == .failure
    }
}
