import GatewayStore
@testable import IMSGateway
import IMSClient
import Testing

/// Bugs found in `RequestLifecycle` and fixed: each test is the event sequence that showed one.
@Suite("request lifecycle: regressions")
struct RequestLifecycleRegressionTests {
    typealias F = LifecycleFixture


    @Test("a poll planned inside the final-poll margin of the only caller's deadline is due after that deadline: it is a background poll bounded by the background deadline")
    func pollAfterLastFinalPollUsesPassedCallerDeadline() {
        let t0 = ContinuousClock.now
        var l = F.lifecycle(t0, batches: 1)
        _ = l.start(at: t0, callerDeadline: t0.after(2))
        #expect(l.handle(.jobIDReceived(batch: 0, jobID: "job-0", schedule: F.slowSchedule, now: t0.after(ms: 500))) == [
            .storeJobID(batch: 0, jobID: "job-0", attempt: 1),
            .schedulePoll(batch: 0, jobID: "job-0", at: t0.after(ms: 1900), deadline: t0.after(2), priority: .poll),
        ])
        // The last poll before the deadline answers before the deadline timer fires.
        let actions = l.polled(0, F.job("RUNNING"), at: t0.after(ms: 1950))
        // Due 8 s later, when the caller has long been answered 504: a deadline of t0+2 makes
        // the scheduler drop it unsent (a whole poll interval lost), with the caller's priority.
        #expect(actions == [
            .schedulePoll(batch: 0, jobID: "job-0", at: t0.after(ms: 9950), deadline: t0.after(3600), priority: .backgroundPoll)
        ])
    }

    @Test("a job id that ends a deferred answer plans its first poll as a background poll, not bounded by the caller deadline already passed")
    func jobIDAfterDeferredAnswerUsesPassedCallerDeadline() {
        let t0 = ContinuousClock.now
        var l = F.lifecycle(t0, batches: 1)
        _ = l.start(at: t0, callerDeadline: t0.after(10))
        #expect(l.handle(.timeReached(now: t0.after(10))) == [])
        let actions = l.jobID(0, "job-0", at: t0.after(ms: 10_020))
        #expect(actions.contains(
            .schedulePoll(batch: 0, jobID: "job-0", at: t0.after(ms: 11_020), deadline: t0.after(3600), priority: .backgroundPoll)))
        #expect(!actions.contains { if case .schedulePoll(_, _, _, let deadline, _) = $0 { deadline <= t0.after(ms: 10_020) } else { false } })
    }

    @Test("at backgroundUntil a submit still in flight (bounded by that same deadline) is not settled as never sent: its job id reaches the end state")
    func backgroundDeadlineWithSubmitInFlight() {
        let t0 = ContinuousClock.now
        var l = F.lifecycle(t0, batches: 1, backgroundSeconds: 60)
        #expect(l.start(at: t0, callerDeadline: nil) == [.submit(batch: 0, attempt: 1, deadline: t0.after(60))])
        var actions = l.handle(.timeReached(now: t0.after(60)))
        actions += l.jobID(0, "job-0", at: t0.after(ms: 60_010))
        actions += l.handle(.timeReached(now: t0.after(ms: 60_010)))
        #expect(!actions.contains(.storeFinal(.notSubmitted)))
        #expect(actions.contains(.storeFinal(.givenUp)))
        #expect(l.settledResult?.batches[0].jobID == "job-0")
        // A settled document never shows a batch `queued` (submitted in the background later).
        #expect(l.settledResult?.batches.contains { $0.state == .queued } == false)
    }

    @Test("after the drain stopped the request, a submit failure emits nothing (no batchEnded after finished) and leaves the batch as stored")
    func submitFailureAfterStop() {
        let t0 = ContinuousClock.now
        var l = F.lifecycle(t0, batches: 1)
        _ = l.start(at: t0, callerDeadline: t0.after(30))
        _ = l.handle(.drainStarted(deadline: t0.after(20), now: t0.after(1)))
        #expect(Array(l.handle(.timeReached(now: t0.after(20))).suffix(2)) == [.storeRunningAndStop, .finished])
        #expect(l.handle(.submitFailed(batch: 0, F.retryable(1), now: t0.after(ms: 20_010))) == [])
        #expect(l.phases == [.submitting(attempt: 1)])
    }
}
