/// The two IMS calls the request path makes: submit a BatchUpdateMembers job, then read the job
/// until it is final. ``IMSClient`` is the real one; a fake stands in for it in tests, with no
/// server and no HTTP library.
///
/// Deadlines are instants of `ContinuousClock`, the clock of the whole request path: an
/// implementation bounds everything the call does (waiting for the call budget, sending, the
/// answer) by it. Errors are ``IMSClientError``, whose transport case carries an
/// ``UpstreamTransportError``.
public protocol IMSJobs: Sendable {
    /// Submits one job that sets `body.status` for `body.images` in `body.projectID`
    /// (BatchUpdateMembers, `PUT /v1/cloudimages/members`; docs/IMS-API.md, "Batch update image
    /// member status"). IMS answers 200 with a `job_id` at once and does the work in that job.
    /// - Parameters:
    ///   - body: the images, the member project, the status and the optional CBR vault.
    ///   - deadline: when the caller stops waiting; the call (budget wait included) ends by then.
    ///   - correlationID: sent as `X-Request-Id` so that IMS-side logs can be matched, or nil.
    ///   - caller: the client the job is for (its share of the IMS call budget).
    /// - Returns: the `job_id` IMS answered.
    /// - Throws: ``IMSClientError``; its `mayHaveReachedServer` tells whether a job may exist
    ///   anyway (a timeout after the request was sent), `throttled` when it was not sent or
    ///   never accepted in time.
    func submit(
        _ body: BatchUpdateMembersRequest, deadline: ContinuousClock.Instant, correlationID: String?,
        caller: UpstreamCaller
    ) async throws(IMSClientError) -> String

    /// Reads a job's state (ShowJob `GET /v1/{project_id}/jobs/{job_id}` or ShowJobProgress
    /// `GET /v1/cloudimages/job/{job_id}`; docs/IMS-API.md, "Job queries"): `INIT` and
    /// `RUNNING` go on, `SUCCESS` and `FAIL` are final, in any letter case.
    /// - Parameters:
    ///   - projectID: the project the job was submitted for (32 hex characters in IMS's examples).
    ///   - jobID: the job id BatchUpdateMembers answered.
    ///   - deadline: when the caller stops waiting; the call (budget wait included) ends by then.
    ///   - correlationID: sent as `X-Request-Id`, or nil.
    ///   - priority: its place among the caller's calls in the budget's queue (`.poll` while a
    ///     connected caller waits on the job, `.backgroundPoll` after it was answered).
    ///   - caller: the client the job is for (its share of the IMS call budget).
    /// - Returns: the job as IMS described it.
    /// - Throws: ``IMSClientError``; a brand-new job may answer 404 (`upstream`) for a while,
    ///   which means "not visible yet", not "gone".
    func showJob(
        projectID: String, jobID: String, deadline: ContinuousClock.Instant, correlationID: String?,
        priority: UpstreamPriority, caller: UpstreamCaller
    ) async throws(IMSClientError) -> Job
}
