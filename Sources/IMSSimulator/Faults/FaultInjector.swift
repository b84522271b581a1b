import Foundation
import Synchronization

/// The running fault plan: decides, call by call and job by job, which faults apply, uses up
/// their counts, draws job durations, keeps the quota window and counts what it injected.
/// All of it under one lock, so the order of calls and job creations is the order of decisions.
final class FaultInjector: Sendable {
    /// What to do with one call, besides an optional delay before it.
    enum Action: Equatable, Sendable {
        /// Handle it normally.
        case proceed
        /// Handle it, then send half of the JSON body.
        case malform
        /// Close the connection without answering (abortively with `reset`).
        case close(reset: Bool)
        /// Answer this status with IMS's error body.
        case httpError(status: Int, errorCode: String, message: String)
        /// Answer 429 APIGW.0308 with this `Retry-After`.
        case throttle(CallFault.RetryAfter)
        /// Answer 429 APIGW.0308: the quota is used up.
        case quotaExceeded(Quota)
    }

    /// The decision for one call.
    struct CallDecision: Sendable {
        /// Wait this long first; `nil` for no wait.
        var delay: Duration?
        var action: Action
    }

    /// How a new job behaves.
    struct PlannedJob: Sendable {
        /// `nil`: stuck RUNNING forever.
        var duration: Duration?
        var faults: JobFaults
    }

    fileprivate struct Storage {
        var plan: FaultPlan
        /// Remaining count of `plan.calls[i]`; `nil` for unlimited.
        var callsLeft: [Int?]
        /// Remaining count of `plan.jobs[i]`; `nil` for unlimited.
        var jobsLeft: [Int?]
        var sampler: JobDurationSampler
        var window: SlidingWindowCounter
        var injected: [String: Int] = [:]
        var throttled429 = 0
        var quotaRejections = 0

        init(plan: FaultPlan) {
            self.plan = plan
            callsLeft = plan.calls.map(\.count)
            jobsLeft = plan.jobs.map(\.count)
            sampler = JobDurationSampler(plan.jobDuration)
            window = SlidingWindowCounter(window: .seconds(plan.quota.windowSeconds), limit: plan.quota.calls)
        }

        /// Installs `plan` with fresh counts, sampler and window; keeps the totals.
        mutating func install(_ plan: FaultPlan) {
            let totals = (injected, throttled429, quotaRejections)
            self = Storage(plan: plan)
            (injected, throttled429, quotaRejections) = totals
        }
    }

    /// The plan the simulator started with (what `DELETE /_sim/faults` puts back).
    let startPlan: FaultPlan
    private let storage: Mutex<Storage>

    init(plan: FaultPlan) {
        startPlan = plan
        storage = Mutex(Storage(plan: plan))
    }

    /// Replaces the running plan: counts, the duration sequence (from its seed) and the quota
    /// window start afresh; the totals in `/_sim/stats` go on.
    func replace(with plan: FaultPlan) {
        storage.withLock { $0.install(plan) }
    }

    /// Decides for one call of `operation` arriving `now`: at most one delay fault and one
    /// other fault, the first matching of each in plan order; the quota (for IMS calls) before
    /// the other faults.
    /// - Parameters:
    ///   - operation: the operation's name as counted in `/_sim/stats`.
    ///   - countsTowardQuota: whether it is an IMS call (IAM calls are not).
    ///   - now: the call's arrival.
    func decide(operation: String, countsTowardQuota: Bool, now: ContinuousClock.Instant) -> CallDecision {
        storage.withLock { storage in
            var decision = CallDecision(delay: nil, action: .proceed)
            if let index = storage.firstCallFault(for: operation, where: { $0.isDelay }),
                case .delay(let milliseconds) = storage.use(callFault: index)
            {
                decision.delay = .milliseconds(milliseconds)
            }
            if countsTowardQuota, !storage.window.record(at: now) {
                storage.quotaRejections += 1
                storage.throttled429 += 1
                decision.action = .quotaExceeded(storage.plan.quota)
                return decision
            }
            guard let index = storage.firstCallFault(for: operation, where: { !$0.isDelay }) else { return decision }
            switch storage.use(callFault: index) {
            case .httpError(let status, let code, let message):
                decision.action = .httpError(status: status, errorCode: code, message: message)
            case .close(let reset):
                decision.action = .close(reset: reset)
            case .malformedJSON:
                decision.action = .malform
            case .throttle(let retryAfter):
                storage.throttled429 += 1
                decision.action = .throttle(retryAfter)
            case .delay:
                break
            }
            return decision
        }
    }

    /// Draws the next job's duration and attaches every matching job fault with count left.
    /// - Parameter images: the job's image IDs (for faults limited to one image).
    func planJob(images: [String]) -> PlannedJob {
        storage.withLock { storage in
            var duration: Duration? = storage.sampler.next()
            var stuck = false
            var faults = JobFaults()
            for index in storage.plan.jobs.indices where storage.jobsLeft[index] != 0 {
                let fault = storage.plan.jobs[index]
                if let image = fault.imageID, !images.contains(image) { continue }
                if let left = storage.jobsLeft[index] { storage.jobsLeft[index] = left - 1 }
                faults.names.append(fault.kind.name)
                switch fault.kind {
                case .duration(let milliseconds):
                    duration = .milliseconds(milliseconds)
                    storage.injected[fault.kind.name, default: 0] += 1
                case .stuck:
                    stuck = true
                    storage.injected[fault.kind.name, default: 0] += 1
                case .statusWord(let word, let whileRunning):
                    faults.statusWord = .init(word: word, whileRunning: whileRunning)
                case .omitField(let field, let polls):
                    faults.omissions.append(.init(field: field, polls: polls))
                case .notFound(let polls):
                    faults.notFoundPolls = max(faults.notFoundPolls, polls)
                }
            }
            return PlannedJob(duration: stuck ? nil : duration, faults: faults)
        }
    }

    /// Counts one answer changed by a job fault (`not_found`, `omit_field`, `status_word`).
    func recordInjected(_ name: String) {
        storage.withLock { $0.injected[name, default: 0] += 1 }
    }

    /// The running plan in its JSON form, with each fault's remaining count.
    func planDocument() -> [String: Any] {
        storage.withLock { storage in
            storage.plan.jsonObject(remaining: storage.callsLeft + storage.jobsLeft)
        }
    }

    /// The fields this injector adds to `/_sim/stats`.
    func statsFields() -> [String: Any] {
        storage.withLock { storage in
            [
                "faults_injected": storage.injected,
                "throttled_429": storage.throttled429,
                "quota_rejections": storage.quotaRejections,
                "quota_calls": storage.plan.quota.calls.map { $0 as Any } ?? NSNull(),
                "quota_window_seconds": storage.plan.quota.windowSeconds,
                "max_calls_in_window": storage.window.maxSeenInWindow,
            ]
        }
    }
}

extension CallFault.Kind {
    fileprivate var isDelay: Bool {
        if case .delay = self { return true }
        return false
    }
}

extension FaultInjector.Storage {
    fileprivate func firstCallFault(for operation: String, where accept: (CallFault.Kind) -> Bool) -> Int? {
        plan.calls.indices.first { index in
            let fault = plan.calls[index]
            return callsLeft[index] != 0 && (fault.operation == nil || fault.operation == operation) && accept(fault.kind)
        }
    }

    /// Uses one count of `calls[index]` and counts the injection.
    fileprivate mutating func use(callFault index: Int) -> CallFault.Kind {
        if let left = callsLeft[index] { callsLeft[index] = left - 1 }
        let kind = plan.calls[index].kind
        injected[kind.name, default: 0] += 1
        return kind
    }
}
