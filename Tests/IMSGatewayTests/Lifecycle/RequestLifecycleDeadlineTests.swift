import GatewayStore
@testable import IMSGateway
import IMSClient
import Testing

/// Deadlines: the caller's (504 and the background wait), repeats joining, callers leaving,
/// the drain, the background deadline, and which instant the driver is woken at.
@Suite("request lifecycle: deadlines, callers, drain and background")
struct RequestLifecycleDeadlineTests {
    typealias F = LifecycleFixture

    /// One batch, caller `c1` until `callerDeadline`, its job `job-0` given at t0+1 (first poll
    /// planned at t0+2).
    static func pending(_ t0: ContinuousClock.Instant, callerDeadline: Int = 10) -> RequestLifecycle {
        var l = F.lifecycle(t0, batches: 1)
        _ = l.start(at: t0, callerDeadline: t0.after(callerDeadline))
        _ = l.jobID(0, "job-0", at: t0.after(1))
        return l
    }

    static func timedOut(_ l: RequestLifecycle, at now: ContinuousClock.Instant, continues: Bool = true) -> CallerAnswer {
        CallerAnswer(
            result: l.document(now: now), continuesInBackground: continues, cutByDrain: false, isFinal: false,
            retryAfter: l.throttledRetryAfter)
    }

    static func cut(_ l: RequestLifecycle, at now: ContinuousClock.Instant) -> CallerAnswer {
        CallerAnswer(
            result: l.document(now: now), continuesInBackground: false, cutByDrain: true, isFinal: false,
            retryAfter: l.throttledRetryAfter)
    }

    // MARK: - The caller's deadline

    @Test("at the caller's deadline it is answered 504 with the batches as they stand, and the request goes on in the background")
    func callerDeadlineAnswers504() {
        let t0 = ContinuousClock.now
        var l = F.lifecycle(t0, batches: 2, fanOut: 1)
        #expect(l.start(at: t0, callerDeadline: t0.after(10)) == [.submit(batch: 0, attempt: 1, deadline: t0.after(10))])
        _ = l.jobID(0, "job-0", at: t0.after(1))
        _ = l.polled(0, F.job("RUNNING"), at: t0.after(2))
        #expect(l.polled(0, F.job("RUNNING"), at: t0.after(4)) == [
            .schedulePoll(batch: 0, jobID: "job-0", at: t0.after(8), deadline: t0.after(10), priority: .poll)
        ])
        // The last poll before the deadline lands just before it.
        #expect(l.polled(0, F.job("RUNNING"), at: t0.after(8)) == [
            .schedulePoll(batch: 0, jobID: "job-0", at: t0.after(ms: 9900), deadline: t0.after(10), priority: .poll)
        ])
        #expect(l.nextWake == t0.after(10))
        let actions = l.handle(.timeReached(now: t0.after(10)))
        let answer = Self.timedOut(l, at: t0.after(10))
        #expect(actions == [.answer(F.c1, answer), .continueInBackground])
        #expect(answer.result.outcome == .timedOut)
        #expect(answer.result.httpStatus == 504)
        #expect(answer.result.elapsedMs == 10_000)
        #expect(answer.result.batches.map(\.state) == [.pending, .queued])
        #expect(answer.result.batches[0].jobID == "job-0")
        #expect(l.inBackground)
        #expect(l.callers.isEmpty)
        #expect(l.stage == .running)
        #expect(l.nextWake == t0.after(3600))
        // Polls from now on are background polls, bounded by the background deadline.
        #expect(l.polled(0, F.job("RUNNING"), at: t0.after(ms: 10_050)) == [
            .schedulePoll(batch: 0, jobID: "job-0", at: t0.after(ms: 18_050), deadline: t0.after(3600), priority: .backgroundPoll)
        ])
        #expect(l.polled(0, F.job("SUCCESS"), at: t0.after(ms: 18_050)) == [
            .batchEnded(batch: 0), .storeAttempt(batch: 1, attempt: 1, deadline: t0.after(3600)),
        ])
        #expect(l.handle(.submitAttemptStored(batch: 1, attempt: 1, now: t0.after(19))) == [
            .submit(batch: 1, attempt: 1, deadline: t0.after(3600))
        ])
        #expect(l.jobID(1, "job-1", at: t0.after(20)) == [
            .storeJobID(batch: 1, jobID: "job-1", attempt: 1),
            .schedulePoll(batch: 1, jobID: "job-1", at: t0.after(21), deadline: t0.after(3600), priority: .backgroundPoll),
        ])
        #expect(l.polled(1, F.job("SUCCESS", id: "job-1"), at: t0.after(21)) == [
            .learnFirstPoll(images: 1, delay: .seconds(1), foundFinal: true), .batchEnded(batch: 1), .storeFinal(.final),
        ])
        #expect(l.handle(.finalStored(now: t0.after(22))) == [.finished])
        #expect(l.settledResult?.outcome == .succeeded)
    }

    @Test("the answer waits while a submit bounded by the same deadline is about to report, and a throttled one then answers 429")
    func answerDeferredForSubmit() {
        let t0 = ContinuousClock.now
        var l = F.lifecycle(t0, batches: 1)
        #expect(l.start(at: t0, callerDeadline: t0.after(10)) == [.submit(batch: 0, attempt: 1, deadline: t0.after(10))])
        #expect(l.handle(.timeReached(now: t0.after(10))) == [])
        #expect(l.answersDeferredAt == t0.after(10))
        #expect(l.callers.keys.sorted { $0.value < $1.value } == [F.c1])
        // No timer spin: the next wake is not the deadline that already came (nor the
        // background deadline, which bounds the PUT out too).
        #expect(l.nextWake == nil)
        let actions = l.handle(.submitFailed(batch: 0, F.throttled(.seconds(5)), now: t0.after(ms: 10_020)))
        let answer = F.settledAnswer(l, isFinal: false, retryAfter: .seconds(5))!
        #expect(actions == [.batchEnded(batch: 0), .storeFinal(.notSubmitted), .answer(F.c1, answer)])
        #expect(answer.result.outcome == .notSubmitted)
        #expect(answer.result.httpStatus == 429)
        #expect(answer.result.elapsedMs == 10_020)
        #expect(l.answersDeferredAt == nil)
        #expect(l.handle(.finalStored(now: t0.after(11))) == [.finished])
    }

    @Test("a deferred answer is given as a 504 once the submit it waited for got a job id")
    func answerDeferredThenJobID() {
        let t0 = ContinuousClock.now
        var l = F.lifecycle(t0, batches: 1)
        _ = l.start(at: t0, callerDeadline: t0.after(10))
        _ = l.handle(.timeReached(now: t0.after(10)))
        let actions = l.jobID(0, "job-0", at: t0.after(ms: 10_020))
        let answer = Self.timedOut(l, at: t0.after(ms: 10_020))
        #expect(actions.withoutPolls == [
            .storeJobID(batch: 0, jobID: "job-0", attempt: 1), .answer(F.c1, answer), .continueInBackground,
        ])
        #expect(actions.count == 4)
        #expect(answer.result.batches[0].state == .pending)
        #expect(answer.result.batches[0].jobID == "job-0")
        #expect(answer.result.httpStatus == 504)
    }

    @Test("a submit whose attempt is still being stored does not hold the answer; it is then sent with the background deadline")
    func attemptBeingStoredDoesNotDefer() {
        let t0 = ContinuousClock.now
        var l = F.lifecycle(t0, batches: 1, storedFirst: false)
        #expect(l.start(at: t0, callerDeadline: t0.after(10)) == [.storeAttempt(batch: 0, attempt: 1, deadline: t0.after(10))])
        let actions = l.handle(.timeReached(now: t0.after(10)))
        #expect(actions == [.answer(F.c1, Self.timedOut(l, at: t0.after(10))), .continueInBackground])
        #expect(l.handle(.submitAttemptStored(batch: 0, attempt: 1, now: t0.after(ms: 10_100))) == [
            .submit(batch: 0, attempt: 1, deadline: t0.after(3600))
        ])
    }

    @Test("a submit bounded by a later caller's deadline does not hold the answer of an earlier caller")
    func laterSubmitDeadlineDoesNotDefer() {
        let t0 = ContinuousClock.now
        var l = F.lifecycle(t0, batches: 1)
        _ = l.handle(.callerJoined(F.c1, deadline: t0.after(10), now: t0))
        _ = l.handle(.callerJoined(F.c2, deadline: t0.after(30), now: t0))
        #expect(l.handle(.admitted(now: t0)) == [.submit(batch: 0, attempt: 1, deadline: t0.after(30))])
        #expect(l.handle(.timeReached(now: t0.after(10))) == [.answer(F.c1, Self.timedOut(l, at: t0.after(10)))])
        #expect(l.answersDeferredAt == nil)
    }

    // MARK: - Callers

    @Test("of two callers the earlier is answered 504 while the later keeps waiting; the last one sends the request to the background")
    func twoCallers() {
        let t0 = ContinuousClock.now
        var l = Self.pending(t0)
        #expect(l.handle(.callerJoined(F.c2, deadline: t0.after(30), now: t0.after(1))) == [])
        #expect(l.handle(.timeReached(now: t0.after(10))) == [.answer(F.c1, Self.timedOut(l, at: t0.after(10)))])
        #expect(!l.inBackground)
        #expect(l.nextWake == t0.after(30))
        #expect(l.handle(.timeReached(now: t0.after(30))) == [
            .answer(F.c2, Self.timedOut(l, at: t0.after(30))), .continueInBackground,
        ])
    }

    @Test("a repeat joining a request that went on in the background waits for it and gets the final document when it settles")
    func repeatJoinsBackgroundRequest() {
        let t0 = ContinuousClock.now
        var l = Self.pending(t0)
        _ = l.handle(.timeReached(now: t0.after(10)))
        #expect(l.inBackground)
        #expect(l.handle(.callerJoined(F.c2, deadline: t0.after(50), now: t0.after(20))) == [])
        #expect(!l.inBackground)
        #expect(l.nextWake == t0.after(50))
        // Polls are for a waiting caller again.
        #expect(l.polled(0, F.job("RUNNING"), at: t0.after(21)) == [
            .learnFirstPoll(images: 1, delay: .seconds(1), foundFinal: false),
            .schedulePoll(batch: 0, jobID: "job-0", at: t0.after(23), deadline: t0.after(50), priority: .poll),
        ])
        #expect(l.polled(0, F.job("SUCCESS"), at: t0.after(23)) == [.batchEnded(batch: 0), .storeFinal(.final)])
        #expect(l.handle(.finalStored(now: t0.after(24))) == [
            .answer(F.c2, F.settledAnswer(l, isFinal: true)!), .finished,
        ])
        #expect(l.settledResult?.httpStatus == 200)
    }

    @Test("a repeat that also times out is answered 504 and the request goes on in the background again")
    func repeatTimesOutToo() {
        let t0 = ContinuousClock.now
        var l = Self.pending(t0)
        #expect(l.handle(.timeReached(now: t0.after(10))).last == .continueInBackground)
        _ = l.handle(.callerJoined(F.c2, deadline: t0.after(50), now: t0.after(20)))
        #expect(l.handle(.timeReached(now: t0.after(50))) == [
            .answer(F.c2, Self.timedOut(l, at: t0.after(50))), .continueInBackground,
        ])
    }

    @Test("callerLeft of the last caller sends the request to the background once; of another caller, nothing")
    func callerLeft() {
        let t0 = ContinuousClock.now
        var l = Self.pending(t0, callerDeadline: 30)
        _ = l.handle(.callerJoined(F.c2, deadline: t0.after(40), now: t0.after(1)))
        #expect(l.handle(.callerLeft(F.c2)) == [])
        #expect(!l.inBackground)
        #expect(l.handle(.callerLeft(F.c1)) == [.continueInBackground])
        #expect(l.inBackground)
        #expect(l.handle(.callerLeft(F.c1)) == [])
        #expect(l.nextWake == t0.after(3600))
        #expect(l.polled(0, F.job("RUNNING"), at: t0.after(2)).last
            == .schedulePoll(batch: 0, jobID: "job-0", at: t0.after(4), deadline: t0.after(3600), priority: .backgroundPoll))

        var settling = Self.pending(t0, callerDeadline: 30)
        _ = settling.polled(0, F.job("SUCCESS"), at: t0.after(2))
        #expect(settling.handle(.callerLeft(F.c1)) == [])
        #expect(settling.handle(.finalStored(now: t0.after(3))) == [.finished])
    }

    // MARK: - Drain

    @Test("drainStarted brings every caller's effective deadline, the next wake and the poll trims forward to the drain deadline")
    func drainMovesDeadlines() {
        let t0 = ContinuousClock.now
        var l = Self.pending(t0, callerDeadline: 30)
        #expect(l.handle(.drainStarted(deadline: t0.after(20), now: t0.after(1))) == [])
        #expect(l.drainDeadline == t0.after(20))
        #expect(l.effective(t0.after(30)) == t0.after(20))
        #expect(l.effective(t0.after(10)) == t0.after(10))
        #expect(l.workDeadline == t0.after(20))
        #expect(l.nextWake == t0.after(20))
        // A second drain does not move it.
        #expect(l.handle(.drainStarted(deadline: t0.after(5), now: t0.after(2))) == [])
        #expect(l.drainDeadline == t0.after(20))
        #expect(l.polled(0, F.job("RUNNING"), at: t0.after(2)) == [
            .learnFirstPoll(images: 1, delay: .seconds(1), foundFinal: false),
            .schedulePoll(batch: 0, jobID: "job-0", at: t0.after(4), deadline: t0.after(20), priority: .poll),
        ])
        #expect(l.polled(0, F.job("RUNNING"), at: t0.after(16)) == [
            .schedulePoll(batch: 0, jobID: "job-0", at: t0.after(ms: 19_900), deadline: t0.after(20), priority: .poll)
        ])
    }

    @Test("at the drain deadline every caller gets its document cut by the drain; the request is stored running and stops")
    func drainDeadlineStops() {
        let t0 = ContinuousClock.now
        var l = F.lifecycle(t0, batches: 2, fanOut: 2)
        _ = l.start(at: t0, callerDeadline: t0.after(30))
        _ = l.handle(.callerJoined(F.c2, deadline: t0.after(40), now: t0.after(1)))
        _ = l.jobID(0, "job-0", at: t0.after(1))
        _ = l.handle(.drainStarted(deadline: t0.after(20), now: t0.after(5)))
        let actions = l.handle(.timeReached(now: t0.after(20)))
        let answer = Self.cut(l, at: t0.after(20))
        #expect(actions == [.answer(F.c1, answer), .answer(F.c2, answer), .storeRunningAndStop, .finished])
        #expect(answer.result.outcome == .timedOut)
        #expect(answer.result.batches.map(\.state) == [.pending, .queued])
        #expect(l.stage == .stopped)
        #expect(l.callers.isEmpty)
        #expect(l.nextWake == nil)
        #expect(!l.isSettled)
        // Whatever comes later is ignored; a job id is still stored.
        #expect(l.polled(0, F.job("SUCCESS"), at: t0.after(21)) == [])
        #expect(l.phases[0] == .pending(jobID: "job-0"))
        #expect(l.jobID(1, "job-1", at: t0.after(21)) == [.storeJobID(batch: 1, jobID: "job-1", attempt: 1)])
        #expect(l.handle(.timeReached(now: t0.after(22))) == [])
        #expect(l.handle(.finalStored(now: t0.after(22))) == [])
        #expect(l.handle(.callerLeft(F.c1)) == [])
        #expect(l.stage == .stopped)
        // A caller joining now gets where it stands, cut by the drain.
        #expect(l.handle(.callerJoined(F.c3, deadline: t0.after(60), now: t0.after(23))) == [
            .answer(F.c3, Self.cut(l, at: t0.after(23)))
        ])
    }

    @Test("a caller whose own deadline comes before the drain deadline is answered 504; the request stops at the drain deadline")
    func callerBeforeDrainDeadline() {
        let t0 = ContinuousClock.now
        var l = Self.pending(t0, callerDeadline: 10)
        _ = l.handle(.drainStarted(deadline: t0.after(20), now: t0.after(5)))
        #expect(l.handle(.timeReached(now: t0.after(10))) == [
            .answer(F.c1, Self.timedOut(l, at: t0.after(10))), .continueInBackground,
        ])
        #expect(l.nextWake == t0.after(20))
        #expect(l.handle(.timeReached(now: t0.after(20))) == [.storeRunningAndStop, .finished])
        #expect(l.stage == .stopped)
    }

    @Test("an event after the drain deadline, before its timer, answers the callers cut by the drain; the timer then stops the request")
    func eventAfterDrainDeadline() {
        let t0 = ContinuousClock.now
        var l = Self.pending(t0, callerDeadline: 30)
        _ = l.handle(.drainStarted(deadline: t0.after(20), now: t0.after(5)))
        let actions = l.polled(0, F.job("RUNNING"), at: t0.after(ms: 20_500))
        #expect(actions.answered == [F.c1])
        #expect(actions.answers[F.c1] == Self.cut(l, at: t0.after(ms: 20_500)))
        #expect(!actions.contains(.continueInBackground))
        #expect(l.stage == .running)
        #expect(l.nextWake == t0.after(20))
        #expect(l.handle(.timeReached(now: t0.after(ms: 20_500))) == [.storeRunningAndStop, .finished])
    }

    // MARK: - The background deadline

    @Test("at backgroundUntil queued batches end not_submitted, pending ones stay pending, and the request is stored given_up")
    func backgroundDeadlineGivesUp() {
        let t0 = ContinuousClock.now
        var l = F.lifecycle(t0, batches: 2, fanOut: 1, backgroundSeconds: 60)
        #expect(l.start(at: t0, callerDeadline: nil) == [.submit(batch: 0, attempt: 1, deadline: t0.after(60))])
        #expect(l.jobID(0, "job-0", at: t0.after(1)) == [
            .storeJobID(batch: 0, jobID: "job-0", attempt: 1),
            .schedulePoll(batch: 0, jobID: "job-0", at: t0.after(2), deadline: t0.after(60), priority: .backgroundPoll),
        ])
        #expect(l.nextWake == t0.after(60))
        #expect(l.handle(.timeReached(now: t0.after(59))) == [])
        #expect(l.handle(.timeReached(now: t0.after(60))) == [.storeFinal(.givenUp)])
        #expect(l.phases == [.pending(jobID: "job-0"), .notSubmitted])
        #expect(l.batches[1].failReason == "the wait ended (wait.maxBackgroundSeconds) before the batch could be submitted")
        let settled = l.settledResult
        #expect(settled?.batches.map(\.state) == [.pending, .notSubmitted])
        #expect(settled?.outcome == .timedOut)
        #expect(settled?.httpStatus == 504)
        #expect(l.handle(.finalStored(now: t0.after(61))) == [.finished])
        #expect(l.stage == .done(.givenUp))
    }

    @Test("a caller still waiting at backgroundUntil gets the given-up document, not as final")
    func backgroundDeadlineWithCaller() {
        let t0 = ContinuousClock.now
        var l = F.lifecycle(t0, batches: 1, backgroundSeconds: 60)
        _ = l.start(at: t0, callerDeadline: t0.after(100))
        _ = l.jobID(0, "job-0", at: t0.after(1))
        #expect(l.nextWake == t0.after(60))
        #expect(l.handle(.timeReached(now: t0.after(60))) == [.storeFinal(.givenUp)])
        #expect(l.handle(.finalStored(now: t0.after(61))) == [.answer(F.c1, F.settledAnswer(l, isFinal: false)!), .finished])
    }

    @Test("at backgroundUntil a request that never got anything to IMS is stored not_submitted (given_up once a job may exist)")
    func backgroundDeadlineNothingSent() {
        let t0 = ContinuousClock.now
        var l = F.lifecycle(t0, batches: 1, backgroundSeconds: 60)
        _ = l.start(at: t0, callerDeadline: nil)
        _ = l.handle(.submitFailed(batch: 0, F.retryable(2), now: t0.after(1)))
        #expect(l.handle(.timeReached(now: t0.after(60))) == [.storeFinal(.notSubmitted)])
        #expect(l.phases == [.notSubmitted])
        #expect(l.batches[0].failReason == "no answer within the timeout")
        #expect(l.settledResult?.outcome == .notSubmitted)
        #expect(l.settledResult?.httpStatus == 429)

        var maybe = F.lifecycle(t0, batches: 1, backgroundSeconds: 60)
        _ = maybe.start(at: t0, callerDeadline: nil)
        _ = maybe.handle(.submitFailed(batch: 0, F.retryable(2, mayHaveCreatedJob: true), now: t0.after(1)))
        #expect(maybe.handle(.timeReached(now: t0.after(60))) == [.storeFinal(.givenUp)])
    }

    // MARK: - nextWake

    @Test("nextWake is the earliest of the callers' effective deadlines, the drain deadline, backgroundUntil and queued backoffs")
    func nextWake() {
        let t0 = ContinuousClock.now
        var idle = F.lifecycle(t0, batches: 1)
        _ = idle.handle(.callerJoined(F.c1, deadline: t0.after(30), now: t0))
        #expect(idle.nextWake == nil)

        var l = Self.pending(t0, callerDeadline: 30)
        #expect(l.nextWake == t0.after(30))
        _ = l.handle(.callerJoined(F.c2, deadline: t0.after(25), now: t0.after(1)))
        #expect(l.nextWake == t0.after(25))
        _ = l.handle(.drainStarted(deadline: t0.after(20), now: t0.after(1)))
        #expect(l.nextWake == t0.after(20))

        var early = Self.pending(t0, callerDeadline: 10)
        _ = early.handle(.drainStarted(deadline: t0.after(20), now: t0.after(1)))
        #expect(early.nextWake == t0.after(10))

        var background = F.lifecycle(t0, batches: 1, backgroundSeconds: 60)
        _ = background.start(at: t0, callerDeadline: t0.after(100))
        // The PUT out is bounded by the background deadline: its report gives the request up.
        #expect(background.nextWake == t0.after(100))
        _ = background.jobID(0, "job-0", at: t0.after(1))
        #expect(background.nextWake == t0.after(60))

        var alone = F.lifecycle(t0, batches: 1)
        _ = alone.start(at: t0, callerDeadline: nil)
        #expect(alone.nextWake == nil)
        _ = alone.handle(.submitFailed(batch: 0, F.retryable(3), now: t0.after(1)))
        #expect(alone.nextWake == t0.after(4))

        var finished = Self.pending(t0)
        _ = finished.polled(0, F.job("SUCCESS"), at: t0.after(2))
        _ = finished.handle(.finalStored(now: t0.after(3)))
        #expect(finished.nextWake == nil)
    }
}
