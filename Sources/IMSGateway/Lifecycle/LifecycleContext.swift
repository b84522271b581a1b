import IMSClient
import Logging

/// What every ``LifecycleDriver`` performs its actions with: the IMS jobs, the scheduler, the
/// submit retry policy, the poll planner, and where it reports. One per gateway.
final class LifecycleContext: Sendable {
    /// Submits jobs (``IMSClient`` in production, a fake in tests).
    let jobs: any IMSJobs
    /// The one due-time queue of polls and timers.
    let scheduler: JobScheduler
    /// Limits of each request's lifecycle.
    let settings: RequestLifecycle.Settings
    /// The configured poll schedule, when nothing is learned.
    let pollSchedule: PollSchedule
    /// Learns when to send the first poll, per batch size; nil polls on the fixed schedule.
    let planner: AdaptivePollPlanner?
    let retryPolicy: SubmitRetryPolicy
    /// Told when IMS or IAM refuse the credentials, so that `/readyz` reflects it at once.
    let readiness: ReadinessState
    let drain: DrainController
    let metrics: GatewayMetrics
    let log: RequestLog
    let logger: Logger

    /// Creates it from its parts (one per stored property).
    init(
        jobs: any IMSJobs, scheduler: JobScheduler, settings: RequestLifecycle.Settings,
        pollSchedule: PollSchedule, planner: AdaptivePollPlanner?, retryPolicy: SubmitRetryPolicy,
        readiness: ReadinessState, drain: DrainController, metrics: GatewayMetrics, log: RequestLog, logger: Logger
    ) {
        self.jobs = jobs
        self.scheduler = scheduler
        self.settings = settings
        self.pollSchedule = pollSchedule
        self.planner = planner
        self.retryPolicy = retryPolicy
        self.readiness = readiness
        self.drain = drain
        self.metrics = metrics
        self.log = log
        self.logger = logger
    }

    /// The clock every deadline is read on.
    var now: ContinuousClock.Instant { scheduler.now }

    /// A failed PUT as the lifecycle takes it: retryable (with its backoff), throttled, or final.
    func classify(_ error: IMSClientError, beforeAttempt attempt: Int) -> SubmitFailure {
        let kind: SubmitFailure.Kind
        switch error {
        case .throttled(_, let retryAfter):
            kind = .throttled(retryAfter: retryAfter)
        case .authentication:
            kind = .final(authentication: true)
        default:
            kind = retryPolicy.isRetryable(error)
                ? .retryable(delay: retryPolicy.delay(beforeAttempt: attempt, after: error)) : .final(authentication: false)
        }
        return SubmitFailure(
            kind: kind, errorCode: error.errorCode, message: "\(error)", mayHaveCreatedJob: Self.mayHaveCreatedJob(error))
    }

    /// Whether a failed submit may have left a job upstream: IMS may have got the request and
    /// its answer was lost (timeout, reset) or unclear (5xx, a 2xx without `job_id`). An IMS
    /// 4xx, or a refusal by IAM before IMS was called, created nothing.
    static func mayHaveCreatedJob(_ error: IMSClientError) -> Bool {
        switch error {
        case .transport(let transport): return transport.mayHaveReachedServer
        case .upstream(let upstream): return upstream.service == "IMS" && upstream.isServerError
        case .malformedResponse: return true
        case .authentication, .credentials, .throttled: return false
        }
    }
}

/// The clock of the request path: its instants are `ContinuousClock` instants, so one deadline
/// type goes from the controller to libcurl; tests inject one that they move by hand.
protocol GatewayClock: Clock, Sendable where Instant == ContinuousClock.Instant, Duration == Swift.Duration {}

extension ContinuousClock: GatewayClock {}
