import IMSClient

/// An ``IMSJobs`` with no server: records every call and answers from a script, in order.
/// Once the script of an operation is used up, the last answer repeats.
actor FakeIMSJobs: IMSJobs {
    /// One `submit` call as it arrived.
    struct SubmitCall: Sendable, Equatable {
        var body: BatchUpdateMembersRequest
        var deadline: ContinuousClock.Instant
        var correlationID: String?
        var caller: UpstreamCaller
    }

    /// One `showJob` call as it arrived.
    struct ShowJobCall: Sendable, Equatable {
        var projectID: String
        var jobID: String
        var deadline: ContinuousClock.Instant
        var correlationID: String?
        var priority: UpstreamPriority
        var caller: UpstreamCaller
        /// When it arrived.
        var at: ContinuousClock.Instant
    }

    private let now: @Sendable () -> ContinuousClock.Instant
    private var submitAnswers: [Result<String, IMSClientError>]
    private var showJobAnswers: [Result<Job, IMSClientError>]
    private(set) var submits: [SubmitCall] = []
    private(set) var showJobs: [ShowJobCall] = []

    /// A fake answering `submit` with `submitAnswers` and `showJob` with `showJobAnswers`.
    /// - Parameter now: the clock calls are timed on (the test's clock).
    init(
        submitAnswers: [Result<String, IMSClientError>] = [.success("job-1")],
        showJobAnswers: [Result<Job, IMSClientError>],
        now: @escaping @Sendable () -> ContinuousClock.Instant = { .now }
    ) {
        self.now = now
        self.submitAnswers = submitAnswers
        self.showJobAnswers = showJobAnswers
    }

    func submit(
        _ body: BatchUpdateMembersRequest, deadline: ContinuousClock.Instant, correlationID: String?,
        caller: UpstreamCaller
    ) async throws(IMSClientError) -> String {
        submits.append(SubmitCall(body: body, deadline: deadline, correlationID: correlationID, caller: caller))
        let answer = submitAnswers.count > 1 ? submitAnswers.removeFirst() : submitAnswers[0]
        return try answer.get()
    }

    func showJob(
        projectID: String, jobID: String, deadline: ContinuousClock.Instant, correlationID: String?,
        priority: UpstreamPriority, caller: UpstreamCaller
    ) async throws(IMSClientError) -> Job {
        showJobs.append(ShowJobCall(
            projectID: projectID, jobID: jobID, deadline: deadline, correlationID: correlationID, priority: priority,
            caller: caller, at: now()))
        let answer = showJobAnswers.count > 1 ? showJobAnswers.removeFirst() : showJobAnswers[0]
        return try answer.get()
    }
}
