import GatewayStore
@testable import IMSGateway
import IMSClient
import Testing

/// Waiting: job ids, the poll schedule and its trimming, job outcomes, settling and answering.
@Suite("request lifecycle: waiting and settling")
struct RequestLifecycleWaitTests {
    typealias F = LifecycleFixture


    /// A request of one batch whose job `job-0` came at t0+1 (first poll planned at t0+2).
    static func pending(_ t0: ContinuousClock.Instant, callerDeadline: Int? = 60) -> RequestLifecycle {
        var l = F.lifecycle(t0, batches: 1)
        _ = l.start(at: t0, callerDeadline: callerDeadline.map { t0.after($0) })
        _ = l.jobID(0, "job-0", at: t0.after(1))
        return l
    }

    // MARK: - Job ids

    @Test("a job id is stored and the first poll is planned at the schedule's initial delay, bounded by the caller's deadline")
    func jobIDPlansFirstPoll() {
        let t0 = ContinuousClock.now
        var l = F.lifecycle(t0, batches: 1)
        _ = l.start(at: t0, callerDeadline: t0.after(30))
        #expect(l.jobID(0, "job-0", at: t0.after(ms: 500)) == [
            .storeJobID(batch: 0, jobID: "job-0", attempt: 1),
            .schedulePoll(batch: 0, jobID: "job-0", at: t0.after(ms: 1500), deadline: t0.after(30), priority: .poll),
        ])
        let batch = l.batches[0]
        #expect(batch.phase == .pending(jobID: "job-0"))
        #expect(batch.jobID == "job-0")
        #expect(batch.submittedAt == t0.after(ms: 500))
        #expect(batch.submitDeadline == nil)
        #expect(batch.schedule == F.schedule)
        #expect(batch.plannedPoll?.at == t0.after(ms: 1500))
        #expect(batch.plannedPoll?.delay == .seconds(1))
        #expect(batch.plannedPoll?.trimmed == false)
        #expect(batch.result.state == .pending)
        #expect(batch.result.jobID == "job-0")
        #expect(l.document(now: t0.after(1)).outcome == .timedOut)
    }

    @Test("a first poll that would land after the caller's deadline is moved to finalPollMargin before it, and teaches the planner nothing")
    func firstPollTrimmedToCallerDeadline() {
        let t0 = ContinuousClock.now
        var l = F.lifecycle(t0, batches: 1)
        _ = l.start(at: t0, callerDeadline: t0.after(2))
        #expect(l.handle(.jobIDReceived(batch: 0, jobID: "job-0", schedule: F.slowSchedule, now: t0.after(ms: 500))) == [
            .storeJobID(batch: 0, jobID: "job-0", attempt: 1),
            .schedulePoll(batch: 0, jobID: "job-0", at: t0.after(ms: 1900), deadline: t0.after(2), priority: .poll),
        ])
        #expect(l.batches[0].plannedPoll?.trimmed == true)
        #expect(l.batches[0].plannedPoll?.delay == .milliseconds(1400))
        // Found final: no learnFirstPoll, since the poll was not at its planned delay.
        #expect(l.polled(0, F.job("SUCCESS"), at: t0.after(ms: 1900)) == [.batchEnded(batch: 0), .storeFinal(.final)])
    }

    @Test("without a caller, a poll that would land after the background deadline is trimmed to it, with background priority")
    func pollTrimmedToBackgroundDeadline() {
        let t0 = ContinuousClock.now
        var l = F.lifecycle(t0, batches: 1, backgroundSeconds: 60)
        _ = l.start(at: t0, callerDeadline: nil)
        #expect(l.handle(.jobIDReceived(batch: 0, jobID: "job-0", schedule: F.slowSchedule, now: t0.after(58))) == [
            .storeJobID(batch: 0, jobID: "job-0", attempt: 1),
            .schedulePoll(batch: 0, jobID: "job-0", at: t0.after(ms: 59_900), deadline: t0.after(60), priority: .backgroundPoll),
        ])
    }

    @Test("a poll is trimmed to the earliest connected caller's deadline")
    func pollTrimmedToEarliestCaller() {
        let t0 = ContinuousClock.now
        var l = F.lifecycle(t0, batches: 1)
        _ = l.handle(.callerJoined(F.c1, deadline: t0.after(4), now: t0))
        _ = l.handle(.callerJoined(F.c2, deadline: t0.after(40), now: t0))
        _ = l.handle(.admitted(now: t0))
        #expect(l.handle(.jobIDReceived(batch: 0, jobID: "job-0", schedule: F.slowSchedule, now: t0.after(1))) == [
            .storeJobID(batch: 0, jobID: "job-0", attempt: 1),
            .schedulePoll(batch: 0, jobID: "job-0", at: t0.after(ms: 3900), deadline: t0.after(40), priority: .poll),
        ])
    }

    @Test("a job id arriving twice is stored again but the batch keeps its first job and plan")
    func secondJobID() {
        let t0 = ContinuousClock.now
        var l = Self.pending(t0)
        #expect(l.jobID(0, "job-0-again", at: t0.after(2)) == [.storeJobID(batch: 0, jobID: "job-0-again", attempt: 1)])
        #expect(l.batches[0].jobID == "job-0")
        #expect(l.phases == [.pending(jobID: "job-0")])
        #expect(l.jobID(9, "job-x", at: t0.after(2)) == [])
    }

    @Test("a job id arriving after the request settled is still stored, and nothing else happens")
    func jobIDAfterSettled() {
        let t0 = ContinuousClock.now
        var l = F.lifecycle(t0, batches: 2, fanOut: 2)
        _ = l.start(at: t0, callerDeadline: t0.after(30))
        _ = l.handle(.submitFailed(batch: 0, F.refused(authentication: false), now: t0.after(1)))
        _ = l.jobID(1, "job-1", at: t0.after(1))
        _ = l.polled(1, F.job("SUCCESS", id: "job-1"), at: t0.after(2))
        #expect(l.isSettled)
        let settled = l.settledResult
        // A late answer to batch 0's PUT (its refusal came first): the id is stored, nothing else.
        #expect(l.jobID(0, "job-late", at: t0.after(3)) == [.storeJobID(batch: 0, jobID: "job-late", attempt: 1)])
        #expect(l.settledResult == settled)
        #expect(l.document(now: t0.after(4)) == settled)
    }

    @Test("a PUT still out at the background deadline holds the give-up; its job id is in the given_up end state, with no poll")
    func jobIDAtBackgroundDeadline() {
        let t0 = ContinuousClock.now
        var l = F.lifecycle(t0, batches: 2, fanOut: 2)
        _ = l.start(at: t0, callerDeadline: nil)
        _ = l.handle(.submitFailed(batch: 0, F.refused(authentication: false), now: t0.after(1)))
        #expect(l.nextWake == nil)
        #expect(l.handle(.timeReached(now: t0.after(3600))) == [])
        #expect(!l.isSettled)
        #expect(l.jobID(1, "job-1", at: t0.after(3601)) == [
            .storeJobID(batch: 1, jobID: "job-1", attempt: 1), .storeFinal(.givenUp),
        ])
        #expect(l.settledResult?.batches.map(\.state) == [.submitFailed, .pending])
        #expect(l.settledResult?.batches[1].jobID == "job-1")
    }

    @Test("an attempt stored after the background deadline is never sent: the batch ends not_submitted")
    func attemptStoredAfterBackgroundDeadline() {
        let t0 = ContinuousClock.now
        var l = F.lifecycle(t0, batches: 1, backgroundSeconds: 60)
        _ = l.start(at: t0, callerDeadline: nil)
        #expect(l.handle(.submitFailed(batch: 0, F.retryable(1), now: t0.after(58))) == [])
        #expect(l.handle(.timeReached(now: t0.after(59))) == [.storeAttempt(batch: 0, attempt: 2, deadline: t0.after(60))])
        #expect(l.handle(.timeReached(now: t0.after(60))) == [.storeFinal(.notSubmitted)])
        #expect(l.handle(.submitAttemptStored(batch: 0, attempt: 2, now: t0.after(61))) == [])
        #expect(l.settledResult?.batches[0].state == .notSubmitted)
        #expect(l.settledResult?.batches[0].submitAttempts == 1)
    }

    // MARK: - Polls

    @Test("RUNNING polls follow the schedule: each delay grows by its factor up to its cap")
    func runningFollowsSchedule() {
        let t0 = ContinuousClock.now
        var l = Self.pending(t0)
        #expect(l.polled(0, F.job("RUNNING"), at: t0.after(2)) == [
            .learnFirstPoll(images: 1, delay: .seconds(1), foundFinal: false),
            .schedulePoll(batch: 0, jobID: "job-0", at: t0.after(4), deadline: t0.after(60), priority: .poll),
        ])
        #expect(l.polled(0, F.job("RUNNING"), at: t0.after(4)) == [
            .schedulePoll(batch: 0, jobID: "job-0", at: t0.after(8), deadline: t0.after(60), priority: .poll)
        ])
        #expect(l.polled(0, F.job("INIT"), at: t0.after(8)) == [
            .schedulePoll(batch: 0, jobID: "job-0", at: t0.after(16), deadline: t0.after(60), priority: .poll)
        ])
        #expect(l.polled(0, F.job("running"), at: t0.after(16)) == [
            .schedulePoll(batch: 0, jobID: "job-0", at: t0.after(24), deadline: t0.after(60), priority: .poll)
        ])
        #expect(l.batches[0].polls == 4)
        #expect(l.batches[0].result.jobStatus == "running")
        #expect(l.batches[0].result.state == .pending)
        #expect(l.document(now: t0.after(16)).totals.upstreamCalls == 5)
    }

    @Test("a SUCCESS word in any letter case ends the batch succeeded", arguments: ["SUCCESS", "success", "Succeeded"])
    func successWords(word: String) {
        let t0 = ContinuousClock.now
        var l = Self.pending(t0)
        #expect(l.polled(0, F.job(word), at: t0.after(2)) == [
            .learnFirstPoll(images: 1, delay: .seconds(1), foundFinal: true), .batchEnded(batch: 0), .storeFinal(.final),
        ])
        #expect(l.phases == [.succeeded])
        #expect(l.batches[0].result.jobStatus == word)
        #expect(l.settledResult?.outcome == .succeeded)
        #expect(l.settledResult?.httpStatus == 200)
        #expect(l.active.isEmpty)
    }

    @Test("a FAIL word in any letter case ends the batch failed with IMS's error code and reason", arguments: ["FAIL", "failed", "FAILURE"])
    func failWords(word: String) {
        let t0 = ContinuousClock.now
        var l = Self.pending(t0)
        #expect(l.polled(0, F.job(word, errorCode: "IMG.0104", failReason: "image not shared"), at: t0.after(2)) == [
            .learnFirstPoll(images: 1, delay: .seconds(1), foundFinal: true), .batchEnded(batch: 0), .storeFinal(.final),
        ])
        #expect(l.phases == [.failed])
        let result = l.batches[0].result
        #expect(result.state == .failed)
        #expect(result.jobStatus == word)
        #expect(result.errorCode == "IMG.0104")
        #expect(result.failReason == "image not shared")
        #expect(l.settledResult?.outcome == .failed)
        #expect(l.settledResult?.httpStatus == 502)
    }

    @Test("an unknown status word is reported once and the wait goes on; a missing status is not reported")
    func unknownStatusWord() {
        let t0 = ContinuousClock.now
        var l = Self.pending(t0)
        #expect(l.polled(0, F.job("PAUSED"), at: t0.after(2)) == [
            .learnFirstPoll(images: 1, delay: .seconds(1), foundFinal: false),
            .reportUnknownStatus(batch: 0, word: "PAUSED"),
            .schedulePoll(batch: 0, jobID: "job-0", at: t0.after(4), deadline: t0.after(60), priority: .poll),
        ])
        #expect(l.polled(0, F.job("PAUSED"), at: t0.after(4)) == [
            .schedulePoll(batch: 0, jobID: "job-0", at: t0.after(8), deadline: t0.after(60), priority: .poll)
        ])
        #expect(l.polled(0, F.job("WAITING"), at: t0.after(8)) == [
            .schedulePoll(batch: 0, jobID: "job-0", at: t0.after(16), deadline: t0.after(60), priority: .poll)
        ])
        #expect(l.batches[0].result.jobStatus == "WAITING")
        #expect(l.phases == [.pending(jobID: "job-0")])

        var missing = Self.pending(t0)
        #expect(missing.polled(0, F.job(nil), at: t0.after(2)) == [
            .learnFirstPoll(images: 1, delay: .seconds(1), foundFinal: false),
            .schedulePoll(batch: 0, jobID: "job-0", at: t0.after(4), deadline: t0.after(60), priority: .poll),
        ])
    }

    @Test("a poll that failed after it was sent counts as a poll, one never sent does not; neither ends the wait")
    func failedPolls() {
        let t0 = ContinuousClock.now
        var l = Self.pending(t0)
        #expect(l.polled(0, .failed(message: "no budget token before the deadline", sent: false), at: t0.after(2)) == [
            .schedulePoll(batch: 0, jobID: "job-0", at: t0.after(3), deadline: t0.after(60), priority: .poll)
        ])
        #expect(l.batches[0].polls == 0)
        #expect(l.batches[0].failReason == "the job could not be read yet: no budget token before the deadline")
        #expect(l.polled(0, .failed(message: "HTTP 503", sent: true), at: t0.after(3)) == [
            .schedulePoll(batch: 0, jobID: "job-0", at: t0.after(5), deadline: t0.after(60), priority: .poll)
        ])
        #expect(l.batches[0].polls == 1)
        #expect(l.batches[0].failReason == "the job could not be read yet: HTTP 503")
        // The first job read is the second poll: the planner learns nothing from it.
        #expect(l.polled(0, F.job("RUNNING"), at: t0.after(5)) == [
            .schedulePoll(batch: 0, jobID: "job-0", at: t0.after(9), deadline: t0.after(60), priority: .poll)
        ])
        #expect(l.batches[0].failReason == nil)
        // Once a job was read, a failed poll keeps what it said.
        #expect(l.polled(0, .failed(message: "timeout", sent: true), at: t0.after(9)) == [
            .schedulePoll(batch: 0, jobID: "job-0", at: t0.after(17), deadline: t0.after(60), priority: .poll)
        ])
        #expect(l.batches[0].failReason == nil)
        #expect(l.batches[0].result.jobStatus == "RUNNING")
        #expect(l.batches[0].polls == 3)
        #expect(l.document(now: t0.after(9)).totals.upstreamCalls == 4)
    }

    @Test("an authentication failure while polling ends the batch failed and reports the refused credentials")
    func pollAuthenticationFailure() {
        let t0 = ContinuousClock.now
        var l = Self.pending(t0)
        #expect(l.polled(0, .authenticationFailed(errorCode: "APIGW.0301", message: "token refused after refresh"), at: t0.after(2)) == [
            .credentialsRefused(message: "token refused after refresh"), .batchEnded(batch: 0), .storeFinal(.final),
        ])
        let batch = l.batches[0]
        #expect(batch.phase == .failed)
        #expect(batch.polls == 1)
        #expect(batch.errorCode == "APIGW.0301")
        #expect(batch.failReason == "the job could not be read: token refused after refresh; it may still finish upstream")
        #expect(batch.jobID == "job-0")
        #expect(l.settledResult?.outcome == .failed)
    }

    @Test("a poll result for a batch that is not pending, or for a request no longer running, is ignored")
    func pollsOutOfPhase() {
        let t0 = ContinuousClock.now
        var l = F.lifecycle(t0, batches: 2)
        _ = l.start(at: t0, callerDeadline: t0.after(30))
        #expect(l.polled(0, F.job("SUCCESS"), at: t0.after(1)) == [])
        #expect(l.polled(7, F.job("SUCCESS"), at: t0.after(1)) == [])
        #expect(l.phases == [.submitting(attempt: 1), .submitting(attempt: 1)])

        var settled = Self.pending(t0)
        _ = settled.polled(0, F.job("SUCCESS"), at: t0.after(2))
        #expect(settled.polled(0, F.job("FAIL"), at: t0.after(3)) == [])
        #expect(settled.phases == [.succeeded])
    }

    // MARK: - Settling

    @Test("every batch final: the end state is stored first, then every connected caller gets the frozen document")
    func settlesAndAnswersEveryCaller() {
        let t0 = ContinuousClock.now
        var l = F.lifecycle(t0, batches: 2, fanOut: 2)
        _ = l.start(at: t0, callerDeadline: t0.after(30))
        #expect(l.handle(.callerJoined(F.c2, deadline: t0.after(60), now: t0.after(1))) == [])
        _ = l.jobID(0, "job-0", at: t0.after(1))
        _ = l.jobID(1, "job-1", at: t0.after(1))
        #expect(l.polled(0, F.job("SUCCESS"), at: t0.after(2)) == [
            .learnFirstPoll(images: 1, delay: .seconds(1), foundFinal: true), .batchEnded(batch: 0),
        ])
        #expect(l.stage == .running)
        #expect(l.polled(1, F.job("FAIL", id: "job-1"), at: t0.after(3)) == [
            .learnFirstPoll(images: 1, delay: .seconds(1), foundFinal: true), .batchEnded(batch: 1), .storeFinal(.final),
        ])
        #expect(l.stage == .settling(.final))
        #expect(l.isSettled)
        #expect(l.settledState == .final)
        let settled = l.settledResult
        #expect(settled?.elapsedMs == 3000)
        #expect(settled?.outcome == .partiallyFailed)
        #expect(settled?.httpStatus == 502)
        #expect(l.document(now: t0.after(9)) == settled)
        #expect(l.nextWake == t0.after(30))
        let answer = F.settledAnswer(l, isFinal: true)!
        #expect(l.handle(.finalStored(now: t0.after(4))) == [.answer(F.c1, answer), .answer(F.c2, answer), .finished])
        #expect(l.stage == .done(.final))
        #expect(l.callers.isEmpty)
        #expect(l.nextWake == nil)
    }

    @Test("a final write that fails for good still answers the callers with the real outcome")
    func finalWriteFailedAnswers() {
        let t0 = ContinuousClock.now
        var l = Self.pending(t0)
        _ = l.polled(0, F.job("SUCCESS"), at: t0.after(2))
        let answer = F.settledAnswer(l, isFinal: true)!
        #expect(l.handle(.storeWriteFailed(.final, F.storeError, now: t0.after(3))) == [.answer(F.c1, answer), .finished])
        #expect(l.stage == .done(.final))
        #expect(l.handle(.finalStored(now: t0.after(4))) == [])
    }

    @Test("finalStored or a final write failure while the request still runs does nothing")
    func finalEventsWhileRunning() {
        let t0 = ContinuousClock.now
        var l = Self.pending(t0)
        #expect(l.handle(.finalStored(now: t0.after(2))) == [])
        #expect(l.handle(.storeWriteFailed(.final, F.storeError, now: t0.after(2))) == [])
        #expect(l.stage == .running)
    }

    @Test("a caller whose deadline passes while the end state is written gets the settled document then")
    func callerDeadlineWhileSettling() {
        let t0 = ContinuousClock.now
        var l = Self.pending(t0, callerDeadline: 30)
        _ = l.polled(0, F.job("SUCCESS"), at: t0.after(2))
        let answer = F.settledAnswer(l, isFinal: true)!
        #expect(l.handle(.timeReached(now: t0.after(30))) == [.answer(F.c1, answer)])
        #expect(l.callers.isEmpty)
        #expect(l.handle(.finalStored(now: t0.after(31))) == [.finished])
    }

    @Test("a caller joining while the end state is written is answered once it is stored")
    func joinWhileSettling() {
        let t0 = ContinuousClock.now
        var l = Self.pending(t0)
        _ = l.polled(0, F.job("SUCCESS"), at: t0.after(2))
        #expect(l.handle(.callerJoined(F.c2, deadline: t0.after(90), now: t0.after(2))) == [])
        let answer = F.settledAnswer(l, isFinal: true)!
        #expect(l.handle(.finalStored(now: t0.after(3))) == [.answer(F.c1, answer), .answer(F.c2, answer), .finished])
    }

    @Test("a caller joining a done request is answered at once with its document")
    func joinDone() {
        let t0 = ContinuousClock.now
        var l = Self.pending(t0)
        _ = l.polled(0, F.job("SUCCESS"), at: t0.after(2))
        _ = l.handle(.finalStored(now: t0.after(3)))
        let answer = F.settledAnswer(l, isFinal: true)!
        #expect(l.handle(.callerJoined(F.c3, deadline: t0.after(100), now: t0.after(50))) == [.answer(F.c3, answer)])
        #expect(l.callers.isEmpty)

        var throttled = F.lifecycle(t0, batches: 1)
        _ = throttled.start(at: t0, callerDeadline: t0.after(30))
        _ = throttled.handle(.submitFailed(batch: 0, F.throttled(.seconds(4)), now: t0.after(1)))
        _ = throttled.handle(.finalStored(now: t0.after(2)))
        #expect(throttled.handle(.callerJoined(F.c2, deadline: t0.after(100), now: t0.after(50))) == [
            .answer(F.c2, F.settledAnswer(throttled, isFinal: false, retryAfter: .seconds(4))!)
        ])
    }
}
