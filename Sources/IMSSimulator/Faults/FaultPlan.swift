/// Everything the simulator does beyond plain IMS behaviour: how long jobs take, the account's
/// quota, and the call and job faults. The configuration holds the plan the simulator starts
/// with; `PUT /_sim/faults` replaces it while running and `DELETE /_sim/faults` puts the
/// start-up plan back (`FaultPlan.init(json:over:)` reads its JSON form).
public struct FaultPlan: Sendable, Equatable {
    /// How long jobs take.
    public var jobDuration: JobDurationDistribution
    /// The account's quota on IMS calls (and the window `max_calls_in_window` is measured over).
    public var quota: Quota
    /// Faults on calls, tried in order: per call, the first matching ``CallFault/Kind/delay(milliseconds:)``
    /// and the first other matching fault apply, and only those use up their count.
    public var calls: [CallFault]
    /// Faults attached to jobs at creation; every matching one with count left is attached.
    public var jobs: [JobFault]

    /// Creates a plan.
    /// - Parameters:
    ///   - jobDuration: how long jobs take (default: 2 s each).
    ///   - quota: the IMS quota (default: none, measured over 60 s).
    ///   - calls: call faults, in order.
    ///   - jobs: job faults.
    public init(
        jobDuration: JobDurationDistribution = .fixed(.seconds(2)), quota: Quota = .unlimited,
        calls: [CallFault] = [], jobs: [JobFault] = []
    ) {
        self.jobDuration = jobDuration
        self.quota = quota
        self.calls = calls
        self.jobs = jobs
    }
}
