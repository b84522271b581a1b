import GatewayStore
@testable import IMSGateway
import IMSClient
import Testing

/// Submitting: admission, the store-before-send rule, retries, throttling, refusals, fan-out.
@Suite("request lifecycle: submitting")
struct RequestLifecycleSubmitTests {
    typealias F = LifecycleFixture

    @Test("the first fanOut batches are sent at once when attempt 1 is stored with the request, bounded by the caller's deadline")
    func admittedSendsStoredFirstAttempts() {
        let t0 = ContinuousClock.now
        var l = F.lifecycle(t0, batches: 3, fanOut: 2)
        #expect(l.handle(.callerJoined(F.c1, deadline: t0.after(30), now: t0)) == [])
        #expect(l.stage == .idle)
        let actions = l.handle(.admitted(now: t0))
        #expect(actions == [
            .submit(batch: 0, attempt: 1, deadline: t0.after(30)),
            .submit(batch: 1, attempt: 1, deadline: t0.after(30)),
        ])
        #expect(l.stage == .running)
        #expect(l.phases == [.submitting(attempt: 1), .submitting(attempt: 1), .queued])
        #expect(l.active == [0, 1])
        #expect(l.batches.map(\.submitAttempts) == [1, 1, 0])
        #expect(l.batches.map(\.submitDeadline) == [t0.after(30), t0.after(30), nil])
        let document = l.document(now: t0)
        #expect(l.states == [.queued, .queued, .queued])
        #expect(document.outcome == .timedOut)
        #expect(document.totals.upstreamCalls == 2)
    }

    @Test("a batch whose attempt is not stored yet gets storeAttempt first, and submit once it is stored")
    func unstoredAttemptIsStoredFirst() {
        let t0 = ContinuousClock.now
        var l = F.lifecycle(t0, batches: 3, fanOut: 2, storedFirst: false)
        l.batches[0].storedAttempts = 1
        l.batches[0].attemptBase = 0
        let actions = l.start(at: t0, callerDeadline: t0.after(30))
        #expect(actions == [
            .submit(batch: 0, attempt: 1, deadline: t0.after(30)),
            .storeAttempt(batch: 1, attempt: 1, deadline: t0.after(30)),
        ])
        #expect(l.batches[1].submitDeadline == nil)
        #expect(l.phases == [.submitting(attempt: 1), .submitting(attempt: 1), .queued])
        #expect(l.handle(.submitAttemptStored(batch: 1, attempt: 1, now: t0.after(ms: 20))) == [
            .submit(batch: 1, attempt: 1, deadline: t0.after(30))
        ])
        #expect(l.batches[1].storedAttempts == 1)
        #expect(l.batches[1].submitDeadline == t0.after(30))
        // The same confirmation again sends nothing more.
        #expect(l.handle(.submitAttemptStored(batch: 2, attempt: 1, now: t0.after(ms: 30))) == [])
        #expect(l.handle(.submitAttemptStored(batch: 9, attempt: 1, now: t0.after(ms: 30))) == [])
    }

    @Test("without a caller the submits are bounded by the background deadline")
    func withoutCallerBackgroundDeadline() {
        let t0 = ContinuousClock.now
        var l = F.lifecycle(t0, batches: 1, backgroundSeconds: 600)
        #expect(l.start(at: t0, callerDeadline: nil) == [.submit(batch: 0, attempt: 1, deadline: t0.after(600))])
        var unstored = F.lifecycle(t0, batches: 1, backgroundSeconds: 600, storedFirst: false)
        #expect(unstored.start(at: t0, callerDeadline: nil) == [
            .storeAttempt(batch: 0, attempt: 1, deadline: t0.after(600))
        ])
    }

    @Test("with two callers the submit is bounded by the later deadline, and a drain caps it")
    func submitDeadlineLatestCallerAndDrain() {
        let t0 = ContinuousClock.now
        var l = F.lifecycle(t0, batches: 1)
        _ = l.handle(.callerJoined(F.c1, deadline: t0.after(10), now: t0))
        _ = l.handle(.callerJoined(F.c2, deadline: t0.after(40), now: t0))
        #expect(l.handle(.admitted(now: t0)) == [.submit(batch: 0, attempt: 1, deadline: t0.after(40))])

        var drained = F.lifecycle(t0, batches: 1)
        #expect(drained.handle(.drainStarted(deadline: t0.after(20), now: t0)) == [])
        #expect(drained.start(at: t0, callerDeadline: t0.after(40)) == [
            .submit(batch: 0, attempt: 1, deadline: t0.after(20))
        ])
    }

    @Test("a second admitted (or recovered) event does nothing")
    func admittedTwice() {
        let t0 = ContinuousClock.now
        var l = F.lifecycle(t0, batches: 1)
        _ = l.start(at: t0, callerDeadline: t0.after(30))
        #expect(l.handle(.admitted(now: t0.after(1))) == [])
        #expect(l.handle(.recovered(now: t0.after(1))) == [])
        #expect(l.phases == [.submitting(attempt: 1)])
    }

    @Test("an attempt that cannot be stored leaves its batch not_submitted with store_unavailable and frees its slot")
    func attemptWriteFailed() {
        let t0 = ContinuousClock.now
        var l = F.lifecycle(t0, batches: 3, fanOut: 2, storedFirst: false)
        l.batches[0].storedAttempts = 1
        _ = l.start(at: t0, callerDeadline: t0.after(30))
        let actions = l.handle(.storeWriteFailed(.attempt(batch: 1, attempt: 1), F.storeError, now: t0.after(1)))
        #expect(actions == [.batchEnded(batch: 1), .storeAttempt(batch: 2, attempt: 1, deadline: t0.after(30))])
        #expect(l.phases == [.submitting(attempt: 1), .notSubmitted, .submitting(attempt: 1)])
        #expect(l.active == [0, 2])
        let batch = l.batches[1]
        #expect(batch.submitAttempts == 0)
        #expect(batch.errorCode == "store_unavailable")
        #expect(batch.failReason
            == "the store could not be written (disk I/O error), so the batch was not sent (nothing sent is ever unrecorded)")
        #expect(batch.result.state == .notSubmitted)
        #expect(batch.result.submitAttempts == 0)
    }

    @Test("a failed attempt write that no longer matches the batch's attempt changes nothing")
    func staleAttemptWriteFailure() {
        let t0 = ContinuousClock.now
        var l = F.lifecycle(t0, batches: 1)
        _ = l.start(at: t0, callerDeadline: t0.after(30))
        _ = l.jobID(0, "job-0", at: t0.after(1))
        #expect(l.handle(.storeWriteFailed(.attempt(batch: 0, attempt: 1), F.storeError, now: t0.after(2))) == [])
        #expect(l.handle(.storeWriteFailed(.attempt(batch: 7, attempt: 1), F.storeError, now: t0.after(2))) == [])
        #expect(l.phases == [.pending(jobID: "job-0")])
    }

    @Test("a request whose every attempt could not be stored settles not_submitted and its answer is 503")
    func everyAttemptWriteFailedIs503() {
        let t0 = ContinuousClock.now
        var l = F.lifecycle(t0, batches: 1, fanOut: 1, storedFirst: false)
        #expect(l.start(at: t0, callerDeadline: t0.after(30)) == [
            .storeAttempt(batch: 0, attempt: 1, deadline: t0.after(30))
        ])
        let failed = l.handle(.storeWriteFailed(.attempt(batch: 0, attempt: 1), F.storeError, now: t0.after(1)))
        #expect(failed == [.batchEnded(batch: 0), .storeFinal(.notSubmitted)])
        #expect(l.stage == .settling(.notSubmitted))
        let stored = l.handle(.finalStored(now: t0.after(2)))
        let answer = F.settledAnswer(l, isFinal: false)
        #expect(stored == [.answer(F.c1, answer!), .finished])
        #expect(l.stage == .done(.notSubmitted))
        #expect(answer?.result.outcome == .notSubmitted)
        #expect(answer?.result.httpStatus == 503)
        #expect(answer?.result.elapsedMs == 1000)
        #expect(l.callers.isEmpty)
    }

    @Test("a retryable failure queues the batch until its backoff; then the next attempt is stored before it is sent")
    func retryableFailureRetriesAfterBackoff() {
        let t0 = ContinuousClock.now
        var l = F.lifecycle(t0, batches: 1)
        _ = l.start(at: t0, callerDeadline: t0.after(30))
        #expect(l.handle(.submitFailed(batch: 0, F.retryable(2), now: t0.after(1))) == [])
        var batch = l.batches[0]
        #expect(batch.phase == .queued)
        #expect(batch.submitNotBefore == t0.after(3))
        #expect(batch.submitDeadline == nil)
        #expect(batch.submitAttempts == 1)
        #expect(batch.errorCode == "transport.timeout")
        #expect(batch.failReason == "no answer within the timeout")
        #expect(batch.result.state == .queued)
        #expect(l.nextWake == t0.after(3))
        // Before the backoff ends nothing happens.
        #expect(l.handle(.timeReached(now: t0.after(2))) == [])
        #expect(l.phases == [.queued])
        #expect(l.handle(.timeReached(now: t0.after(3))) == [.storeAttempt(batch: 0, attempt: 2, deadline: t0.after(30))])
        batch = l.batches[0]
        #expect(batch.phase == .submitting(attempt: 2))
        #expect(batch.submitAttempts == 2)
        #expect(batch.submitNotBefore == nil)
        #expect(l.handle(.submitAttemptStored(batch: 0, attempt: 2, now: t0.after(ms: 3010))) == [
            .submit(batch: 0, attempt: 2, deadline: t0.after(30))
        ])
        // A job id now clears the earlier failure and is stored for attempt 2.
        #expect(l.jobID(0, "job-0", at: t0.after(4)) == [
            .storeJobID(batch: 0, jobID: "job-0", attempt: 2),
            .schedulePoll(batch: 0, jobID: "job-0", at: t0.after(5), deadline: t0.after(30), priority: .poll),
        ])
        #expect(l.batches[0].errorCode == nil)
        #expect(l.batches[0].failReason == nil)
        #expect(l.batches[0].result.submitAttempts == 2)
    }

    @Test("a retry past the caller's deadline is still made (in the background), one past the background deadline is not")
    func retryBoundedByBackgroundDeadline() {
        let t0 = ContinuousClock.now
        var l = F.lifecycle(t0, batches: 1, backgroundSeconds: 60)
        _ = l.start(at: t0, callerDeadline: t0.after(10))
        #expect(l.handle(.submitFailed(batch: 0, F.retryable(20), now: t0.after(1))) == [])
        #expect(l.batches[0].submitNotBefore == t0.after(21))

        var late = F.lifecycle(t0, batches: 1, backgroundSeconds: 60)
        _ = late.start(at: t0, callerDeadline: t0.after(10))
        #expect(late.handle(.submitFailed(batch: 0, F.retryable(59), now: t0.after(1))) == [
            .batchEnded(batch: 0), .storeFinal(.final),
        ])
        #expect(late.phases == [.submitFailed])
        #expect(late.batches[0].failReason == "no answer within the timeout")
    }

    @Test("retries stop at maxSubmitAttempts: the last retryable failure ends submit_failed and the request 502")
    func retriesExhausted() {
        let t0 = ContinuousClock.now
        var l = F.lifecycle(t0, batches: 1, maxSubmitAttempts: 3)
        _ = l.start(at: t0, callerDeadline: t0.after(30))
        #expect(l.handle(.submitFailed(batch: 0, F.retryable(1), now: t0.after(1))) == [])
        #expect(l.handle(.timeReached(now: t0.after(2))) == [.storeAttempt(batch: 0, attempt: 2, deadline: t0.after(30))])
        #expect(l.handle(.submitAttemptStored(batch: 0, attempt: 2, now: t0.after(2))) == [
            .submit(batch: 0, attempt: 2, deadline: t0.after(30))
        ])
        #expect(l.handle(.submitFailed(batch: 0, F.retryable(1), now: t0.after(3))) == [])
        #expect(l.handle(.timeReached(now: t0.after(4))) == [.storeAttempt(batch: 0, attempt: 3, deadline: t0.after(30))])
        #expect(l.handle(.submitAttemptStored(batch: 0, attempt: 3, now: t0.after(4))) == [
            .submit(batch: 0, attempt: 3, deadline: t0.after(30))
        ])
        #expect(l.handle(.submitFailed(batch: 0, F.retryable(1), now: t0.after(5))) == [
            .batchEnded(batch: 0), .storeFinal(.final),
        ])
        #expect(l.phases == [.submitFailed])
        #expect(l.batches[0].submitAttempts == 3)
        #expect(l.batches[0].errorCode == "transport.timeout")
        let document = l.document(now: t0.after(9))
        #expect(document.outcome == .failed)
        #expect(document.httpStatus == 502)
        #expect(document.batches[0].state == .submitFailed)
        #expect(document.totals.upstreamCalls == 3)
        #expect(l.handle(.finalStored(now: t0.after(6))) == [.answer(F.c1, F.settledAnswer(l, isFinal: true)!), .finished])
    }

    @Test("throttled: the batch ends not_submitted with its Retry-After; a request of only such batches answers 429 with it")
    func throttledIs429() {
        let t0 = ContinuousClock.now
        var l = F.lifecycle(t0, batches: 1)
        _ = l.start(at: t0, callerDeadline: t0.after(30))
        #expect(l.handle(.submitFailed(batch: 0, F.throttled(.seconds(7)), now: t0.after(2))) == [
            .batchEnded(batch: 0), .storeFinal(.notSubmitted),
        ])
        #expect(l.phases == [.notSubmitted])
        #expect(l.batches[0].retryAfter == .seconds(7))
        #expect(l.batches[0].errorCode == "upstream.throttled")
        #expect(l.batches[0].failReason == "the IMS call budget had no room before the deadline")
        #expect(l.throttledRetryAfter == .seconds(7))
        let answer = F.settledAnswer(l, isFinal: false, retryAfter: .seconds(7))!
        #expect(l.handle(.finalStored(now: t0.after(3))) == [.answer(F.c1, answer), .finished])
        #expect(answer.result.outcome == .notSubmitted)
        #expect(answer.result.httpStatus == 429)
    }

    @Test("the answer's retryAfter is the longest any throttled batch was told")
    func longestRetryAfter() {
        let t0 = ContinuousClock.now
        var l = F.lifecycle(t0, batches: 2)
        _ = l.start(at: t0, callerDeadline: t0.after(30))
        _ = l.handle(.submitFailed(batch: 0, F.throttled(.seconds(3)), now: t0.after(1)))
        _ = l.handle(.submitFailed(batch: 1, F.throttled(.seconds(9)), now: t0.after(1)))
        #expect(l.throttledRetryAfter == .seconds(9))
        #expect(l.handle(.finalStored(now: t0.after(2))).answers[F.c1]?.retryAfter == .seconds(9))
    }

    @Test("an authentication refusal of the submit is final and reports the refused credentials; another refusal only ends the batch")
    func finalRefusals() {
        let t0 = ContinuousClock.now
        var l = F.lifecycle(t0, batches: 1)
        _ = l.start(at: t0, callerDeadline: t0.after(30))
        #expect(l.handle(.submitFailed(batch: 0, F.refused(authentication: true), now: t0.after(1))) == [
            .credentialsRefused(message: "IAM refused the credentials"), .batchEnded(batch: 0), .storeFinal(.final),
        ])
        #expect(l.phases == [.submitFailed])
        #expect(l.batches[0].errorCode == "APIGW.0301")
        #expect(l.batches[0].failReason == "IAM refused the credentials")

        var other = F.lifecycle(t0, batches: 1)
        _ = other.start(at: t0, callerDeadline: t0.after(30))
        #expect(other.handle(.submitFailed(batch: 0, F.refused(authentication: false), now: t0.after(1))) == [
            .batchEnded(batch: 0), .storeFinal(.final),
        ])
        #expect(other.batches[0].errorCode == "IMG.0024")
        #expect(other.document(now: t0.after(1)).httpStatus == 502)
    }

    @Test("a failure that may have created a job says so in fail_reason, through the later attempts, and the request is given up, not not_submitted")
    func mayHaveCreatedJobNote() {
        let t0 = ContinuousClock.now
        var l = F.lifecycle(t0, batches: 1)
        _ = l.start(at: t0, callerDeadline: t0.after(30))
        #expect(l.handle(.submitFailed(batch: 0, F.retryable(1, mayHaveCreatedJob: true), now: t0.after(1))) == [])
        #expect(l.batches[0].failReason == "no answer within the timeout; an IMS job may have been created anyway")
        #expect(l.batches[0].mayHaveCreatedJob)
        _ = l.handle(.timeReached(now: t0.after(2)))
        _ = l.handle(.submitAttemptStored(batch: 0, attempt: 2, now: t0.after(2)))
        #expect(l.handle(.submitFailed(batch: 0, F.throttled(nil), now: t0.after(3))) == [
            .batchEnded(batch: 0), .storeFinal(.givenUp),
        ])
        #expect(l.batches[0].failReason
            == "the IMS call budget had no room before the deadline; an earlier attempt may have created an IMS job")
        #expect(l.document(now: t0.after(3)).outcome == .notSubmitted)

        var refused = F.lifecycle(t0, batches: 1)
        _ = refused.start(at: t0, callerDeadline: t0.after(30))
        _ = refused.handle(.submitFailed(batch: 0, F.refused(authentication: false, mayHaveCreatedJob: true), now: t0.after(1)))
        #expect(refused.batches[0].failReason
            == "the image is not shared with the project; an IMS job may have been created anyway")

        var exhausted = F.lifecycle(t0, batches: 1, maxSubmitAttempts: 1)
        _ = exhausted.start(at: t0, callerDeadline: t0.after(30))
        _ = exhausted.handle(.submitFailed(batch: 0, F.retryable(1, mayHaveCreatedJob: true), now: t0.after(1)))
        #expect(exhausted.phases == [.submitFailed])
        #expect(exhausted.batches[0].failReason == "no answer within the timeout; an IMS job may have been created anyway")
    }

    @Test("a submit failure for a batch that is not submitting is ignored")
    func submitFailureOutOfPhase() {
        let t0 = ContinuousClock.now
        var l = F.lifecycle(t0, batches: 2, fanOut: 1)
        _ = l.start(at: t0, callerDeadline: t0.after(30))
        #expect(l.handle(.submitFailed(batch: 1, F.refused(authentication: false), now: t0.after(1))) == [])
        #expect(l.handle(.submitFailed(batch: 5, F.refused(authentication: false), now: t0.after(1))) == [])
        #expect(l.phases == [.submitting(attempt: 1), .queued])
    }

    @Test("fan-out: with fanOut 2 and 5 batches, the third starts only when one of the first two is final")
    func fanOutSlots() {
        let t0 = ContinuousClock.now
        var l = F.lifecycle(t0, batches: 5, fanOut: 2)
        #expect(l.start(at: t0, callerDeadline: t0.after(30)) == [
            .submit(batch: 0, attempt: 1, deadline: t0.after(30)),
            .submit(batch: 1, attempt: 1, deadline: t0.after(30)),
        ])
        #expect(l.jobID(0, "job-0", at: t0.after(1)) == [
            .storeJobID(batch: 0, jobID: "job-0", attempt: 1),
            .schedulePoll(batch: 0, jobID: "job-0", at: t0.after(2), deadline: t0.after(30), priority: .poll),
        ])
        #expect(l.jobID(1, "job-1", at: t0.after(1)) == [
            .storeJobID(batch: 1, jobID: "job-1", attempt: 1),
            .schedulePoll(batch: 1, jobID: "job-1", at: t0.after(2), deadline: t0.after(30), priority: .poll),
        ])
        // A job still running keeps its slot.
        #expect(l.polled(1, F.job("RUNNING", id: "job-1"), at: t0.after(2)) == [
            .learnFirstPoll(images: 1, delay: .seconds(1), foundFinal: false),
            .schedulePoll(batch: 1, jobID: "job-1", at: t0.after(4), deadline: t0.after(30), priority: .poll),
        ])
        #expect(Array(l.phases[2...]) == [.queued, .queued, .queued])
        // A final job frees its slot: batch 2 is stored first (its attempt 1 is not).
        #expect(l.polled(0, F.job("SUCCESS"), at: t0.after(2)) == [
            .learnFirstPoll(images: 1, delay: .seconds(1), foundFinal: true),
            .batchEnded(batch: 0),
            .storeAttempt(batch: 2, attempt: 1, deadline: t0.after(30)),
        ])
        #expect(l.active == [1, 2])
        #expect(l.phases == [.succeeded, .pending(jobID: "job-1"), .submitting(attempt: 1), .queued, .queued])
        #expect(l.handle(.submitAttemptStored(batch: 2, attempt: 1, now: t0.after(3))) == [
            .submit(batch: 2, attempt: 1, deadline: t0.after(30))
        ])
        // A refused submit frees its slot too.
        #expect(l.handle(.submitFailed(batch: 2, F.refused(authentication: false), now: t0.after(4))) == [
            .batchEnded(batch: 2), .storeAttempt(batch: 3, attempt: 1, deadline: t0.after(30)),
        ])
        #expect(l.active == [1, 3])
        #expect(l.states == [.succeeded, .pending, .submitFailed, .queued, .queued])
        #expect(l.document(now: t0.after(4)).totals.queued == 2)
    }

    @Test("fanOut 0 still submits one batch at a time")
    func fanOutZeroIsOne() {
        let t0 = ContinuousClock.now
        var l = F.lifecycle(t0, batches: 2, fanOut: 0, storedFirst: false)
        #expect(l.start(at: t0, callerDeadline: nil) == [.storeAttempt(batch: 0, attempt: 1, deadline: t0.after(3600))])
    }
}
