import Foundation
import GatewayStore
import IMSClient

extension BatchResult {
    /// The batch as the store keeps it. A batch of a running request that has no job id is
    /// `queued` (never sent) or `submitting` (an attempt stored, its job id not yet known).
    /// - Parameter running: whether the request is still running (else `not_submitted` is final).
    func record(running: Bool, wallClockOffset: (ContinuousClock.Instant) -> Date) -> BatchRecord {
        let word: String
        if running, jobID == nil, state == .notSubmitted {
            word = max(submitAttempts, storedAttempts) > 0 ? "submitting" : "queued"
        } else {
            word = state.rawValue
        }
        return BatchRecord(
            index: index, images: images, state: word, jobID: jobID, jobStatus: jobStatus, polls: polls,
            submitAttempts: max(submitAttempts, storedAttempts), errorCode: errorCode, failReason: failReason,
            beginTime: beginTime, endTime: endTime, resultsJSON: Self.encode(results),
            submittedAt: submittedAt.map(wallClockOffset))
    }

    /// The batch from its stored row: `queued` and `submitting` become not submitted (with the
    /// attempts made so far), the rest keep their state.
    init(record: BatchRecord, instant: (Date) -> ContinuousClock.Instant) {
        self.init(index: record.index, images: record.images)
        switch record.state {
        case "queued", "submitting": state = record.jobID == nil ? .notSubmitted : .pending
        default: state = BatchState(rawValue: record.state) ?? (record.jobID == nil ? .notSubmitted : .pending)
        }
        jobID = record.jobID
        jobStatus = record.jobStatus
        polls = record.polls
        submitAttempts = record.submitAttempts
        storedAttempts = record.submitAttempts
        errorCode = record.errorCode
        failReason = record.failReason
        beginTime = record.beginTime
        endTime = record.endTime
        results = record.resultsJSON.flatMap(Self.decode)
        submittedAt = record.submittedAt.map(instant)
    }

    private static func encode(_ results: [ImageMemberResult]?) -> String? {
        guard let results, let data = try? JSONEncoder().encode(results) else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    private static func decode(_ json: String) -> [ImageMemberResult]? {
        try? JSONDecoder().decode([ImageMemberResult].self, from: Data(json.utf8))
    }
}
