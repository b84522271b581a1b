/// Where and how ``IMSClient`` reaches IMS.
public struct IMSClientConfiguration: Sendable {
    /// Which API answers job queries.
    public enum JobQuery: String, Sendable {
        /// ShowJob `GET /v1/{project_id}/jobs/{job_id}`: carries per-image `entities.results`.
        case showJob = "show_job"
        /// ShowJobProgress `GET /v1/cloudimages/job/{job_id}`: no per-image results.
        case showJobProgress = "show_job_progress"
    }

    /// IMS endpoint, e.g. `https://ims.cn-north-4.myhuaweicloud.com`.
    public var imsBaseURL: String
    /// Total limit of one IMS call, in milliseconds.
    public var timeoutMilliseconds: Int
    /// Connect limit of one IMS call, in milliseconds.
    public var connectTimeoutMilliseconds: Int
    /// Largest IMS response body accepted, in bytes.
    public var maxResponseBodyBytes: Int
    /// The job query API.
    public var jobQuery: JobQuery
    /// Longest pause of the whole call budget after an IMS 429, in seconds: a longer
    /// `Retry-After` is cut to it (IMS's API gateway throttles over windows of minutes,
    /// docs/IMS-API.md, "Throttling"; one answer must not stop the gateway for a day).
    public var maxPauseSeconds: Int

    /// Creates a configuration (defaults: 30,000 ms total, 5,000 ms connect, 1 MiB bodies,
    /// ShowJob, pauses of at most 300 s; a `maxPauseSeconds` below 1 becomes 1).
    public init(
        imsBaseURL: String,
        timeoutMilliseconds: Int = 30_000,
        connectTimeoutMilliseconds: Int = 5_000,
        maxResponseBodyBytes: Int = 1 << 20,
        jobQuery: JobQuery = .showJob,
        maxPauseSeconds: Int = 300
    ) {
        self.maxPauseSeconds = max(1, maxPauseSeconds)
        self.imsBaseURL = imsBaseURL.trimmingSuffix("/")
        self.timeoutMilliseconds = timeoutMilliseconds
        self.connectTimeoutMilliseconds = connectTimeoutMilliseconds
        self.maxResponseBodyBytes = maxResponseBodyBytes
        self.jobQuery = jobQuery
    }
}
