import Foundation
import GatewayStore

/// The ``BatchJournal`` of one request: its submit attempts and job ids, written to the store
/// through the ``RequestRegistry``.
struct RequestJournal: BatchJournal {
    let registry: RequestRegistry
    let request: StoredRequest

    func willSubmit(_ batch: BatchResult, deadline: ContinuousClock.Instant) async -> Bool {
        let attempt = SubmitAttemptRecord(
            requestID: request.requestID, batchIndex: batch.index, attempt: batch.submitAttempts, startedAt: Date())
        let record = registry.batchRecord(running: true)(batch)
        return await registry.retrying("attempt", requestID: request.requestID, until: deadline) {
            [store = registry.store] () async throws(StoreError) in
            try await store.recordAttempt(attempt, batch: record, events: [])
        }
    }

    func submitted(_ batch: BatchResult, attempt: Int) async {
        guard let jobID = batch.jobID else { return }
        let record = registry.batchRecord(running: true)(batch)
        let event = RequestEvents.submitted(batch)
        let write = { [store = registry.store, request] () async throws(StoreError) in
            try await store.recordJobID(
                jobID, requestID: request.requestID, batchIndex: batch.index, attempt: attempt, batch: record,
                events: [event])
        }
        // A few quick tries inline; then in the background, until the store has it: the final
        // write carries the job id too, and a late job-id write never replaces a newer state.
        let soon = ContinuousClock.now.advanced(by: .milliseconds(500))
        if await registry.retrying("job_id", requestID: request.requestID, until: soon, write) {
            #if DEBUG
            DebugFaultPoint.afterJobIDStored.hit()
            #endif
            return
        }
        Task { [registry, request] in
            _ = await registry.retrying("job_id", requestID: request.requestID, until: nil, write)
        }
    }
}
