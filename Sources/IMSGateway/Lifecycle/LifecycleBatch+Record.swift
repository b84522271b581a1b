import Foundation
import GatewayStore
import IMSClient
import JSONText

extension LifecycleBatch {
    /// The batch as the store keeps it (docs/ARCHITECTURE.md, "Tables"): its phase as the
    /// words `queued`, `submitting`, `pending`, `succeeded`, `failed`, `submit_failed`,
    /// `not_submitted`.
    /// - Parameter date: the wall-clock time of an instant of the continuous clock.
    func record(date: (ContinuousClock.Instant) -> Date) -> BatchRecord {
        let word: String
        switch phase {
        case .queued: word = max(submitAttempts, storedAttempts) > 0 ? "submitting" : "queued"
        case .submitting: word = "submitting"
        case .pending: word = "pending"
        case .succeeded: word = "succeeded"
        case .failed: word = "failed"
        case .submitFailed: word = "submit_failed"
        case .notSubmitted: word = "not_submitted"
        }
        return BatchRecord(
            index: index, images: images, state: word, jobID: jobID, jobStatus: job?.rawStatus, polls: polls,
            submitAttempts: max(submitAttempts, storedAttempts), errorCode: errorCode, failReason: failReason,
            beginTime: job?.beginTime, endTime: job?.endTime, resultsJSON: Self.encode(job?.results),
            submittedAt: submittedAt.map(date))
    }

    /// The batch from its stored row, as it stood: a job id makes it `pending` unless its state
    /// is final; `queued` and `submitting` without one are queued.
    /// - Parameter instant: the continuous-clock instant of a wall-clock time.
    init(record: BatchRecord, instant: (Date) -> ContinuousClock.Instant) {
        self.init(index: record.index, images: record.images)
        switch record.state {
        case "succeeded": phase = .succeeded
        case "failed": phase = .failed
        case "submit_failed": phase = .submitFailed
        case "not_submitted": phase = .notSubmitted
        default: phase = record.jobID.map { .pending(jobID: $0) } ?? .queued
        }
        if let jobID = record.jobID, !phase.isTerminal { phase = .pending(jobID: jobID) }
        jobID = record.jobID
        polls = record.polls
        submitAttempts = record.submitAttempts
        storedAttempts = record.submitAttempts
        errorCode = record.errorCode
        failReason = record.failReason
        if record.jobStatus != nil || record.beginTime != nil || record.endTime != nil || record.resultsJSON != nil {
            job = Job(
                status: JobStatus(record.jobStatus), rawStatus: record.jobStatus, jobID: record.jobID,
                beginTime: record.beginTime, endTime: record.endTime, errorCode: record.errorCode,
                failReason: record.failReason, results: record.resultsJSON.flatMap(Self.decode))
        }
        submittedAt = record.submittedAt.map(instant)
    }

    /// The `results` column: `[{"image_id":"...","project_id":"...","status":"success"},...]`,
    /// nil fields left out (as `JSONEncoder` wrote them, which ``decode(_:)`` reads too).
    static func encode(_ results: [ImageMemberResult]?) -> String? {
        guard let results else { return nil }
        return JSONObjectWriter.array(results.map(\.jsonObject))
    }

    static func decode(_ json: String) -> [ImageMemberResult]? {
        try? JSONDecoder().decode([ImageMemberResult].self, from: Data(json.utf8))
    }
}
