import Foundation
import GatewayStore
@testable import IMSGateway
import IMSClient

// Builders for the pure `RequestLifecycle` tests: a plan, a lifecycle, failures, jobs and
// instants derived from one `t0` (no clock is read after it, nothing sleeps).

extension ContinuousClock.Instant {
    /// `seconds` after this instant.
    func after(_ seconds: Int) -> Self { advanced(by: .seconds(seconds)) }
    /// `ms` milliseconds after this instant.
    func after(ms: Int) -> Self { advanced(by: .milliseconds(ms)) }
}

enum LifecycleFixture {
    static let requestID = "req-lifecycle-1"
    static let projectID = "edc89b490d7d4392898e19b2deb34797"
    static let c1 = CallerID(value: 1)
    static let c2 = CallerID(value: 2)
    static let c3 = CallerID(value: 3)
    /// 1 s, doubling, capped at 8 s, no jitter: every poll instant is exact.
    static let schedule = PollSchedule(
        initialDelay: .seconds(1), growthFactor: 2, maxDelay: .seconds(8), jitter: 0, finalPollMargin: .milliseconds(100))
    /// 5 s, doubling, capped at 8 s, no jitter: a first poll far enough out to be trimmed.
    static let slowSchedule = PollSchedule(
        initialDelay: .seconds(5), growthFactor: 2, maxDelay: .seconds(8), jitter: 0, finalPollMargin: .milliseconds(100))
    static let storeError = StoreError(.unavailable, "disk I/O error")

    static func image(_ n: Int) -> String {
        let hex = String(n, radix: 16)
        func padded(_ width: Int) -> String { String(repeating: "0", count: max(0, width - hex.count)) + hex }
        return "\(padded(8))-aaaa-4bbb-8ccc-\(padded(12))"
    }

    /// A plan of `batches` batches of one image each.
    static func plan(batches: Int) -> MemberStatusPlan {
        let images = (0..<batches).map(image)
        return MemberStatusPlan(
            projectID: projectID, memberStatus: .accepted, vaultID: nil, images: images, batches: images.map { [$0] },
            warnings: [])
    }

    static func settings(fanOut: Int = 2, maxSubmitAttempts: Int = 3) -> RequestLifecycle.Settings {
        RequestLifecycle.Settings(fanOut: fanOut, maxSubmitAttempts: maxSubmitAttempts, finalPollMargin: .milliseconds(100))
    }

    /// A lifecycle as admitted: every batch queued; with `storedFirst`, attempt 1 of the first
    /// `fanOut` batches is already stored (as the controller stores it with the request).
    static func lifecycle(
        _ t0: ContinuousClock.Instant, batches count: Int = 1, fanOut: Int = 2, maxSubmitAttempts: Int = 3,
        backgroundSeconds: Int = 3600, storedFirst: Bool = true
    ) -> RequestLifecycle {
        let plan = plan(batches: count)
        var batches = plan.batches.enumerated().map { LifecycleBatch(index: $0.offset, images: $0.element) }
        if storedFirst {
            for index in batches.indices.prefix(max(1, fanOut)) { batches[index].storedAttempts = 1 }
        }
        return lifecycle(t0, batches: batches, fanOut: fanOut, maxSubmitAttempts: maxSubmitAttempts,
                         backgroundSeconds: backgroundSeconds)
    }

    /// A lifecycle over the given batches (as loaded from the store).
    static func lifecycle(
        _ t0: ContinuousClock.Instant, batches: [LifecycleBatch], fanOut: Int = 2, maxSubmitAttempts: Int = 3,
        backgroundSeconds: Int = 3600
    ) -> RequestLifecycle {
        let plan = MemberStatusPlan(
            projectID: projectID, memberStatus: .accepted, vaultID: nil, images: batches.flatMap(\.images),
            batches: batches.map(\.images), warnings: [])
        return RequestLifecycle(
            requestID: requestID, plan: plan, settings: settings(fanOut: fanOut, maxSubmitAttempts: maxSubmitAttempts),
            started: t0, backgroundUntil: t0.after(backgroundSeconds), batches: batches)
    }

    // MARK: - Failures and jobs

    static func retryable(_ seconds: Int, mayHaveCreatedJob: Bool = false) -> SubmitFailure {
        SubmitFailure(
            kind: .retryable(delay: .seconds(seconds)), errorCode: "transport.timeout",
            message: "no answer within the timeout", mayHaveCreatedJob: mayHaveCreatedJob)
    }

    static func throttled(_ retryAfter: Duration?, mayHaveCreatedJob: Bool = false) -> SubmitFailure {
        SubmitFailure(
            kind: .throttled(retryAfter: retryAfter), errorCode: "upstream.throttled",
            message: "the IMS call budget had no room before the deadline", mayHaveCreatedJob: mayHaveCreatedJob)
    }

    static func refused(authentication: Bool, mayHaveCreatedJob: Bool = false) -> SubmitFailure {
        SubmitFailure(
            kind: .final(authentication: authentication), errorCode: authentication ? "APIGW.0301" : "IMG.0024",
            message: authentication ? "IAM refused the credentials" : "the image is not shared with the project",
            mayHaveCreatedJob: mayHaveCreatedJob)
    }

    /// A job as IMS reports it, its status word as given.
    static func job(_ word: String?, id: String = "job-0", errorCode: String? = nil, failReason: String? = nil) -> PollOutcome {
        .job(Job(status: JobStatus(word), rawStatus: word, jobID: id, errorCode: errorCode, failReason: failReason))
    }

    /// The answer of a settled request as `finishSettling` gives it.
    static func settledAnswer(_ lifecycle: RequestLifecycle, isFinal: Bool, retryAfter: Duration? = nil) -> CallerAnswer? {
        lifecycle.settledResult.map {
            CallerAnswer(
                result: $0, continuesInBackground: false, cutByDrain: false, isFinal: isFinal, retryAfter: retryAfter,
                isEnd: true)
        }
    }
}

extension RequestLifecycle {
    /// The phase of every batch, in order.
    var phases: [LifecycleBatch.Phase] { batches.map(\.phase) }
    /// The answer's state of every batch, in order.
    var states: [BatchState] { batches.map(\.result.state) }

    /// The first caller joins with `deadline` (when given), then the request is admitted.
    mutating func start(at now: ContinuousClock.Instant, callerDeadline: ContinuousClock.Instant?) -> [LifecycleAction] {
        if let callerDeadline {
            let joined = handle(.callerJoined(LifecycleFixture.c1, deadline: callerDeadline, now: now))
            precondition(joined.isEmpty, "joining an idle request answers nothing")
        }
        return handle(.admitted(now: now))
    }

    /// IMS gave batch `index` its job id (with the fixture's schedule).
    mutating func jobID(_ index: Int, _ jobID: String, at now: ContinuousClock.Instant) -> [LifecycleAction] {
        handle(.jobIDReceived(batch: index, jobID: jobID, schedule: LifecycleFixture.schedule, now: now))
    }

    /// A poll of batch `index` answered.
    mutating func polled(_ index: Int, _ outcome: PollOutcome, at now: ContinuousClock.Instant) -> [LifecycleAction] {
        handle(.jobPolled(batch: index, outcome, now: now))
    }
}

extension Array where Element == LifecycleAction {
    /// The answers among the actions, in order.
    var answers: [CallerID: CallerAnswer] {
        var answers: [CallerID: CallerAnswer] = [:]
        for case .answer(let id, let answer) in self { answers[id] = answer }
        return answers
    }

    /// The callers answered, in order.
    var answered: [CallerID] {
        compactMap { if case .answer(let id, _) = $0 { return id } else { return nil } }
    }

    /// The actions other than poll plans.
    var withoutPolls: [LifecycleAction] {
        filter { if case .schedulePoll = $0 { return false } else { return true } }
    }
}
