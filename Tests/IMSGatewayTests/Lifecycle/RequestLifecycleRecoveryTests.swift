import Foundation
import GatewayStore
@testable import IMSGateway
import IMSClient
import Testing

/// Recovery: a request loaded from the store resumes its jobs and its submits; and the batch's
/// store record round-trips.
@Suite("request lifecycle: recovery and batch records")
struct RequestLifecycleRecoveryTests {
    typealias F = LifecycleFixture

    /// Wall-clock dates for instants around `t0` (and back), exact for whole seconds.
    struct Dates {
        let t0: ContinuousClock.Instant
        static let base = Date(timeIntervalSinceReferenceDate: 800_000_000)

        func date(_ instant: ContinuousClock.Instant) -> Date {
            let (seconds, attoseconds) = t0.duration(to: instant).components
            return Self.base.addingTimeInterval(Double(seconds) + Double(attoseconds) / 1e18)
        }

        func instant(_ date: Date) -> ContinuousClock.Instant {
            t0.advanced(by: .seconds(date.timeIntervalSince(Self.base)))
        }
    }

    static func batch(_ record: BatchRecord, _ t0: ContinuousClock.Instant) -> LifecycleBatch {
        LifecycleBatch(record: record, instant: Dates(t0: t0).instant)
    }

    // MARK: - Recovered

    @Test("recovered: a job with a job id is polled at once; a batch whose earlier attempt may still answer waits for it; the rest wait for a slot")
    func recoveredResumes() {
        let t0 = ContinuousClock.now
        var b0 = Self.batch(BatchRecord(index: 0, images: [F.image(0)], state: "pending", jobID: "job-0", polls: 2, submitAttempts: 1), t0)
        b0.schedule = F.schedule
        var b1 = Self.batch(BatchRecord(index: 1, images: [F.image(1)], state: "submitting", submitAttempts: 1), t0)
        b1.submitNotBefore = t0.after(50)
        let b2 = Self.batch(BatchRecord(index: 2, images: [F.image(2)], state: "queued"), t0)
        #expect([b0.phase, b1.phase, b2.phase] == [.pending(jobID: "job-0"), .queued, .queued])
        var l = F.lifecycle(t0, batches: [b0, b1, b2], fanOut: 2)
        #expect(l.handle(.recovered(now: t0)) == [
            .schedulePoll(batch: 0, jobID: "job-0", at: t0, deadline: t0.after(3600), priority: .backgroundPoll)
        ])
        #expect(l.stage == .running)
        #expect(l.active == [0, 1])
        #expect(l.batches[0].plannedPoll?.trimmed == true)
        #expect(l.nextWake == t0.after(50))
        #expect(l.handle(.timeReached(now: t0.after(49))) == [])
        // Attempt 2 is not stored yet: stored first.
        #expect(l.handle(.timeReached(now: t0.after(50))) == [.storeAttempt(batch: 1, attempt: 2, deadline: t0.after(3600))])
        // The recovered job's polls go on from its poll count; a resumed first poll teaches nothing.
        #expect(l.polled(0, F.job("RUNNING"), at: t0.after(51)) == [
            .schedulePoll(batch: 0, jobID: "job-0", at: t0.after(59), deadline: t0.after(3600), priority: .backgroundPoll)
        ])
        #expect(l.batches[0].polls == 3)
    }

    @Test("recovered: a queued batch whose wait is over is submitted at once; a waiting batch without a slot does not wake the request")
    func recoveredQueuedBatches() {
        let t0 = ContinuousClock.now
        var b0 = Self.batch(BatchRecord(index: 0, images: [F.image(0)], state: "queued"), t0)
        b0.submitNotBefore = t0.after(-5)
        var b1 = Self.batch(BatchRecord(index: 1, images: [F.image(1)], state: "queued"), t0)
        b1.submitNotBefore = t0.after(5)
        var l = F.lifecycle(t0, batches: [b0, b1], fanOut: 1)
        #expect(l.handle(.recovered(now: t0)) == [.storeAttempt(batch: 0, attempt: 1, deadline: t0.after(3600))])
        #expect(l.nextWake == t0.after(3600))
        // Batch 0 ends; batch 1 takes the slot but still waits.
        #expect(l.handle(.storeWriteFailed(.attempt(batch: 0, attempt: 1), F.storeError, now: t0.after(1))) == [.batchEnded(batch: 0)])
        #expect(l.active == [1])
        #expect(l.nextWake == t0.after(5))
        #expect(l.handle(.timeReached(now: t0.after(5))) == [.storeAttempt(batch: 1, attempt: 1, deadline: t0.after(3600))])
    }

    @Test("attemptBase: a resumed batch gets maxSubmitAttempts again, counted from the attempts it already had")
    func attemptBaseGivesAttemptsAgain() {
        let t0 = ContinuousClock.now
        let b0 = Self.batch(BatchRecord(index: 0, images: [F.image(0)], state: "submitting", submitAttempts: 3), t0)
        #expect(b0.phase == .queued)
        #expect(b0.storedAttempts == 3)
        var l = F.lifecycle(t0, batches: [b0], maxSubmitAttempts: 3)
        #expect(l.batches[0].attemptBase == 3)
        #expect(l.handle(.recovered(now: t0)) == [.storeAttempt(batch: 0, attempt: 4, deadline: t0.after(3600))])
        var now = 0
        for attempt in 4...6 {
            #expect(l.handle(.submitAttemptStored(batch: 0, attempt: attempt, now: t0.after(now))) == [
                .submit(batch: 0, attempt: attempt, deadline: t0.after(3600))
            ])
            now += 1
            let failed = l.handle(.submitFailed(batch: 0, F.retryable(1), now: t0.after(now)))
            if attempt < 6 {
                #expect(failed == [])
                now += 1
                #expect(l.handle(.timeReached(now: t0.after(now))) == [
                    .storeAttempt(batch: 0, attempt: attempt + 1, deadline: t0.after(3600))
                ])
            } else {
                #expect(failed == [.batchEnded(batch: 0), .storeFinal(.final)])
            }
        }
        #expect(l.phases == [.submitFailed])
        #expect(l.batches[0].submitAttempts == 6)
        #expect(l.batches[0].result.submitAttempts == 6)
    }

    @Test("recovered with every batch already final settles at once")
    func recoveredAllFinal() {
        let t0 = ContinuousClock.now
        let b0 = Self.batch(BatchRecord(index: 0, images: [F.image(0)], state: "succeeded", jobID: "job-0", jobStatus: "SUCCESS", polls: 2, submitAttempts: 1), t0)
        let b1 = Self.batch(BatchRecord(index: 1, images: [F.image(1)], state: "failed", jobID: "job-1", jobStatus: "FAIL", polls: 1, submitAttempts: 1), t0)
        var l = F.lifecycle(t0, batches: [b0, b1])
        #expect(l.handle(.recovered(now: t0)) == [.storeFinal(.final)])
        #expect(l.settledResult?.outcome == .partiallyFailed)
        #expect(l.handle(.recovered(now: t0)) == [])
    }

    @Test("a recovered request a repeat waits on polls for it with its deadline")
    func recoveredWithCaller() {
        let t0 = ContinuousClock.now
        var b0 = Self.batch(BatchRecord(index: 0, images: [F.image(0)], state: "pending", jobID: "job-0", submitAttempts: 1), t0)
        b0.schedule = F.schedule
        var l = F.lifecycle(t0, batches: [b0])
        _ = l.handle(.callerJoined(F.c1, deadline: t0.after(30), now: t0))
        #expect(l.handle(.recovered(now: t0)) == [
            .schedulePoll(batch: 0, jobID: "job-0", at: t0, deadline: t0.after(30), priority: .poll)
        ])
        #expect(l.polled(0, F.job("SUCCESS"), at: t0.after(1)) == [.batchEnded(batch: 0), .storeFinal(.final)])
    }

    // MARK: - Records

    @Test("record(date:) writes each phase as its store word")
    func recordWords() {
        let t0 = ContinuousClock.now
        let dates = Dates(t0: t0)
        func word(_ phase: LifecycleBatch.Phase, attempts: Int = 0, stored: Int = 0) -> (String, Int) {
            var batch = LifecycleBatch(index: 0, images: [F.image(0)])
            batch.phase = phase
            batch.submitAttempts = attempts
            batch.storedAttempts = stored
            let record = batch.record(date: dates.date)
            return (record.state, record.submitAttempts)
        }
        #expect(word(.queued) == ("queued", 0))
        #expect(word(.queued, attempts: 1, stored: 1) == ("submitting", 1))
        // Attempt 1 stored with the request, not yet started: it may already have been sent.
        #expect(word(.queued, stored: 1) == ("submitting", 1))
        #expect(word(.submitting(attempt: 2), attempts: 2, stored: 1) == ("submitting", 2))
        #expect(word(.pending(jobID: "job-0"), attempts: 1, stored: 1) == ("pending", 1))
        #expect(word(.succeeded, attempts: 1, stored: 1) == ("succeeded", 1))
        #expect(word(.failed, attempts: 1, stored: 1) == ("failed", 1))
        #expect(word(.submitFailed, attempts: 2, stored: 2) == ("submit_failed", 2))
        #expect(word(.notSubmitted) == ("not_submitted", 0))
    }

    @Test("a batch survives record(date:) and init(record:instant:) with its phase, counts, job, results and submit time")
    func recordRoundTrip() {
        let t0 = ContinuousClock.now
        let dates = Dates(t0: t0)
        func batch(_ phase: LifecycleBatch.Phase, job: Job? = nil, attempts: Int = 1, polls: Int = 0) -> LifecycleBatch {
            var batch = LifecycleBatch(index: 3, images: [F.image(3), F.image(4)])
            batch.phase = phase
            if case .pending(let id) = phase { batch.jobID = id }
            if let id = job?.jobID { batch.jobID = id }
            batch.job = job
            batch.errorCode = job?.errorCode
            batch.failReason = job?.failReason
            batch.submitAttempts = attempts
            batch.storedAttempts = attempts
            batch.polls = polls
            if batch.jobID != nil { batch.submittedAt = t0.after(5) }
            return batch
        }
        let results = [
            ImageMemberResult(imageID: F.image(3), projectID: F.projectID, status: "success"),
            ImageMemberResult(imageID: F.image(4), projectID: F.projectID, status: "failed"),
        ]
        let batches = [
            batch(.queued, attempts: 0),
            batch(.queued, attempts: 1),
            batch(.pending(jobID: "job-3")),
            batch(.pending(jobID: "job-3"),
                  job: Job(status: .running, rawStatus: "RUNNING", jobID: "job-3", beginTime: "2026-12-03T08:00:00Z"), polls: 3),
            batch(.succeeded,
                  job: Job(status: .success, rawStatus: "SUCCESS", jobID: "job-3", beginTime: "2026-12-03T08:00:00Z",
                           endTime: "2026-12-03T08:00:09Z", results: results), polls: 4),
            batch(.failed,
                  job: Job(status: .failure, rawStatus: "FAIL", jobID: "job-3", errorCode: "IMG.0104",
                           failReason: "image not shared"), polls: 2),
            {
                var refused = batch(.submitFailed, attempts: 2)
                refused.errorCode = "IMG.0024"
                refused.failReason = "the image is not shared with the project"
                return refused
            }(),
            {
                var unstored = batch(.notSubmitted, attempts: 0)
                unstored.errorCode = BatchResult.storeUnavailableCode
                unstored.failReason = "the store could not be written"
                return unstored
            }(),
        ]
        for original in batches {
            let record = original.record(date: dates.date)
            let restored = LifecycleBatch(record: record, instant: dates.instant)
            #expect(restored == original, "\(record.state)")
            #expect(restored.submittedAt == original.submittedAt, "\(record.state)")
            #expect(restored.result == original.result, "\(record.state)")
        }
        let succeeded = batches[4].record(date: dates.date)
        #expect(succeeded.resultsJSON != nil)
        #expect(succeeded.jobStatus == "SUCCESS")
        #expect(succeeded.submittedAt == Dates.base.addingTimeInterval(5))
        #expect(batches[0].record(date: dates.date).resultsJSON == nil)
    }

    @Test("init(record:): a job id makes a batch pending unless its state is final; submitting and queued without one are queued")
    func recordPhases() {
        let t0 = ContinuousClock.now
        func phase(_ state: String, jobID: String? = nil) -> LifecycleBatch.Phase {
            Self.batch(BatchRecord(index: 0, images: [F.image(0)], state: state, jobID: jobID, submitAttempts: 1), t0).phase
        }
        #expect(phase("queued") == .queued)
        #expect(phase("submitting") == .queued)
        #expect(phase("pending") == .queued)
        #expect(phase("something-new") == .queued)
        #expect(phase("submitting", jobID: "job-0") == .pending(jobID: "job-0"))
        #expect(phase("queued", jobID: "job-0") == .pending(jobID: "job-0"))
        #expect(phase("pending", jobID: "job-0") == .pending(jobID: "job-0"))
        #expect(phase("succeeded", jobID: "job-0") == .succeeded)
        #expect(phase("failed", jobID: "job-0") == .failed)
        #expect(phase("submit_failed") == .submitFailed)
        #expect(phase("not_submitted") == .notSubmitted)
        // A submitting batch restored is queued with its attempt counted as stored.
        var submitting = LifecycleBatch(index: 0, images: [F.image(0)])
        submitting.phase = .submitting(attempt: 2)
        submitting.submitAttempts = 2
        submitting.storedAttempts = 2
        let restored = LifecycleBatch(record: submitting.record(date: Dates(t0: t0).date), instant: Dates(t0: t0).instant)
        #expect(restored.phase == .queued)
        #expect(restored.submitAttempts == 2)
        #expect(restored.storedAttempts == 2)
        #expect(restored.job == nil)
    }
}
