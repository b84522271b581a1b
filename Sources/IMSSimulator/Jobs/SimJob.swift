import Foundation

/// One simulated `imsUpdateImageMembersJob`, from BatchUpdateMembers to its end, with what the
/// measures of `/_sim/jobs` need: when it ends, how often it was polled, when a poll first showed
/// it final.
struct SimJob: Sendable {
    /// Why one image of the job failed.
    struct ImageFailure: Sendable {
        var imageID: String
        /// IMS error code, e.g. `IMG.0104`.
        var code: String
        var reason: String
    }

    /// Where the job is at a given instant.
    enum Phase: String, Sendable {
        case initializing = "INIT"
        case running = "RUNNING"
        case success = "SUCCESS"
        case fail = "FAIL"

        var isFinal: Bool { self == .success || self == .fail }
    }

    let id: String
    let projectID: String
    let images: [String]
    /// `accepted` or `rejected`.
    let memberStatus: String
    let vaultID: String?
    /// The images that fail, in request order; empty when the job succeeds.
    let failures: [ImageFailure]
    let createdAt: ContinuousClock.Instant
    let createdAtDate: Date
    /// How long it runs; `nil` for a job stuck RUNNING forever.
    let duration: Duration?
    let faults: JobFaults
    /// ShowJob and ShowJobProgress calls that named this job, whatever their answer.
    var polls = 0
    /// Polls that reached the job (authenticated, right project); fault windows count these.
    var servedPolls = 0
    /// When a poll's intact answer first carried a final status word.
    var firstFinalPollAt: Date?

    /// INIT for the first 10 % of the duration (at most 200 ms), RUNNING until the duration has
    /// passed, then SUCCESS or FAIL.
    func phase(at now: ContinuousClock.Instant) -> Phase {
        let elapsed = createdAt.duration(to: now)
        let initPhase = min((duration ?? .seconds(2)) * 0.1, .milliseconds(200))
        if let duration, elapsed >= duration { return failures.isEmpty ? .success : .fail }
        return elapsed < initPhase ? .initializing : .running
    }

    /// When the job ends (becomes SUCCESS/FAIL) on the wall clock; `nil` when stuck.
    var endsAtDate: Date? {
        duration.map { createdAtDate.addingTimeInterval($0.inSeconds) }
    }
}
