import Foundation
import GatewayStore
@testable import IMSGateway
import Logging
import Testing

/// What a start finds in the store and how it resumes it (a real SQLite file, no servers).
@Suite("recovery at start")
struct RecoveredRequestsTests {
    static let projectID = "edc89b490d7d4392898e19b2deb34797"

    static func request(_ id: String, created: Date, backgroundUntil: Date) -> RequestRecord {
        RequestRecord(
            id: id, client: "tester", route: "/accept-images", idempotencyKey: "k-\(id)", bodyDigest: "d-\(id)",
            memberStatus: "accepted", projectID: projectID, vaultID: nil, correlationID: id, warnings: [], weight: 1,
            createdAt: created, deadline: created.addingTimeInterval(30), backgroundUntil: backgroundUntil,
            state: .running, updatedAt: created)
    }

    @Test("jobs with a job id are polled again; a batch whose attempt got no job id waits out upstream.timeoutMs; expired requests are given up")
    func sortsAndSchedules() async throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let store = try StoreOpener.open(url: "sqlite:" + folder.path("store.sqlite"), logger: Logger(label: "test"))
        let now = Date()
        let limits = AdmissionLimits(maxRunning: 100, maxStored: 100)
        // r1: batch 0 pending with a job, batch 1 submitting (attempt 1 sent 1 s ago), batch 2 queued.
        _ = try await store.admit(
            Self.request("r1", created: now.addingTimeInterval(-1), backgroundUntil: now.addingTimeInterval(3600)),
            batches: [
                BatchRecord(index: 0, images: ["a"], state: "pending", jobID: "job-0", polls: 2, submitAttempts: 1),
                BatchRecord(index: 1, images: ["b"], state: "submitting", submitAttempts: 1),
                BatchRecord(index: 2, images: ["c"], state: "queued"),
            ],
            attempts: [
                SubmitAttemptRecord(requestID: "r1", batchIndex: 0, attempt: 1, startedAt: now.addingTimeInterval(-1), jobID: "job-0"),
                SubmitAttemptRecord(requestID: "r1", batchIndex: 1, attempt: 1, startedAt: now.addingTimeInterval(-1)),
            ],
            limits: limits, events: [])
        // r2: past its background deadline.
        _ = try await store.admit(
            Self.request("r2", created: now.addingTimeInterval(-7200), backgroundUntil: now.addingTimeInterval(-3600)),
            batches: [BatchRecord(index: 0, images: ["d"], state: "pending", jobID: "job-9", submitAttempts: 1)],
            attempts: [], limits: limits, events: [])

        // upstream.timeoutMs of an hour: the wait is still ahead however slow this machine is.
        let recovered = try await RecoveredRequests.load(from: store, submitTimeout: .seconds(3600), now: now)
        #expect(recovered.expired.map(\.request.id) == ["r2"])
        let r1 = try #require(recovered.resumed.first)
        #expect(recovered.resumed.count == 1)
        let batches = r1.batches
        #expect(batches.map(\.phase) == [.pending(jobID: "job-0"), .queued, .queued])
        #expect(batches.map(\.jobID) == ["job-0", nil, nil])
        #expect(batches.map(\.polls) == [2, 0, 0])
        #expect(batches.map(\.storedAttempts) == [1, 1, 0])
        // Batch 1's PUT may still be answered until an hour after it started; batch 2 was never sent.
        let notBefore = try #require(batches[1].submitNotBefore)
        let resubmitAt = RequestRegistry.date(notBefore)
        #expect(abs(resubmitAt.timeIntervalSince(now.addingTimeInterval(3599))) < 0.5)
        #expect(batches[2].submitNotBefore == nil)
        #expect(r1.request.plan.warnings.count == 1)
        #expect(r1.request.plan.warnings.first?.hasPrefix("batch 1: submit attempt 1 got no answer") == true)
        #expect(r1.request.requestID == "r1")
        try store.close()
    }

    @Test("the reaper deletes finished requests after the TTL, never a running one")
    func reaperKeepsRunning() async throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let store = try StoreOpener.open(url: "sqlite:" + folder.path("store.sqlite"), logger: Logger(label: "test"))
        let now = Date()
        let limits = AdmissionLimits(maxRunning: 100, maxStored: 100)
        for id in ["old-final", "new-final", "old-running"] {
            _ = try await store.admit(
                Self.request(id, created: now.addingTimeInterval(-7200), backgroundUntil: now.addingTimeInterval(3600)),
                batches: [], attempts: [], limits: limits, events: [])
        }
        try await store.update(
            requestID: "old-final", batches: [], change: RequestChange(state: .final, at: now.addingTimeInterval(-7000)), events: [])
        try await store.update(
            requestID: "new-final", batches: [], change: RequestChange(state: .final, at: now.addingTimeInterval(-10)), events: [])
        let reaper = OutcomeReaper(
            store: store, ttl: .seconds(3600), interval: .seconds(60), batchSize: 1, metrics: GatewayMetrics(),
            logger: Logger(label: "test"))
        #expect(await reaper.reapOnce(now: now) == 1)
        #expect(try await store.request(id: "old-final") == nil)
        #expect(try await store.request(id: "new-final") != nil)
        #expect(try await store.request(id: "old-running") != nil)
        // Hours later: the other finished one goes too; the running one stays.
        #expect(await reaper.reapOnce(now: now.addingTimeInterval(7200)) == 1)
        #expect(try await store.runningRequests().map(\.request.id) == ["old-running"])
        try store.close()
    }
}
