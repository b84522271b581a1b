import Foundation
import GatewayStore
import PostgresTestSupport
import Testing

/// Leases of the PostgreSQL store (docs/ARCHITECTURE.md, "Replicas"): two or three store
/// objects with their own replica ids on one real database. Expiry runs on the database's
/// clock, so the tests that let a lease expire use leases of a few milliseconds and wait a
/// loose bound.
@Suite("PostgreSQL store: leases and takeover", .enabled(if: PostgresTestServer.runs, "POSTGRES_TEST_URL is not set"))
struct PostgresLeaseTests {
    @Test("a live lease is never taken; the owner renews it; another replica's writes are refused, its job id is kept")
    func liveLease() async throws {
        let tested = try await TestStore.open(.postgres)
        let a = tested.store
        #expect(try await Fixture.admit(a, Fixture.request("r1")) == .admitted)
        try await tested.withReplica("replica-b") { b in
            #expect(try await b.claimExpiredLeases(limit: 10).isEmpty)
            #expect(try await a.renewLeases() == ["r1"])
            #expect(try await b.renewLeases() == [])
            let attempt = SubmitAttemptRecord(requestID: "r1", batchIndex: 0, attempt: 1, startedAt: Fixture.ms(1_780_000_000_500))
            let refused = await #expect(throws: StoreError.self) {
                try await b.recordAttempt(attempt, batch: Fixture.batch(0, state: "submitting"), events: [])
            }
            #expect(refused?.kind == .leaseLost)
            #expect(refused?.message.contains("replica replica-a") == true)
            let final = await #expect(throws: StoreError.self) {
                try await b.update(
                    requestID: "r1", batches: [], change: RequestChange(state: .final, at: Fixture.ms(1_780_000_001_000)),
                    events: [])
            }
            #expect(final?.kind == .leaseLost)
            // A job id is stored by whichever replica got it.
            var pending = Fixture.batch(0, state: "pending")
            pending.jobID = "job-from-b"
            try await b.recordJobID("job-from-b", requestID: "r1", batchIndex: 0, attempt: 1, batch: pending, events: [])
            #expect(try await a.request(id: "r1")?.batches.first?.jobID == "job-from-b")
            // The owner's later write without a job id does not erase it.
            try await a.update(requestID: "r1", batches: [Fixture.batch(0, state: "submitting")], change: nil, events: [])
            #expect(try await a.request(id: "r1")?.batches.first?.jobID == "job-from-b")
            #expect(try await a.request(id: "r1")?.batches.first?.state == "submitting")
        }
        try await tested.close()
    }

    @Test("an expired lease goes to the replica that claims it; the old owner's renewal and writes then miss it")
    func expiredLease() async throws {
        let tested = try await TestStore.open(.postgres, leaseMs: 1)
        let a = tested.store
        #expect(try await Fixture.admit(a, Fixture.request("r1")) == .admitted)
        #expect(try await Fixture.admit(a, Fixture.request("r2", created: 1_780_000_000_000)) == .admitted)
        try await Task.sleep(for: .milliseconds(50))
        try await tested.withReplica("replica-b") { b in
            let taken = try await b.claimExpiredLeases(limit: 10)
            #expect(taken.map(\.request.id) == ["r2", "r1"])
            #expect(try await b.claimExpiredLeases(limit: 10).isEmpty)
            #expect(try await a.renewLeases() == [])
            #expect(try await b.renewLeases() == ["r1", "r2"])
            let lost = await #expect(throws: StoreError.self) {
                try await a.update(requestID: "r1", batches: [], change: nil, events: Fixture.events("batch"))
            }
            #expect(lost?.kind == .leaseLost)
            #expect(lost?.message.contains("replica replica-b") == true)
            try await b.update(
                requestID: "r1", batches: [], change: RequestChange(state: .final, at: Fixture.ms(1_780_000_002_000)),
                events: Fixture.events("result"))
            #expect(try await b.renewLeases() == ["r2"])
            // Ended there: the old owner is refused too.
            #expect(await (try? a.recordAttempt(
                SubmitAttemptRecord(requestID: "r1", batchIndex: 0, attempt: 2, startedAt: Fixture.ms(1_780_000_003_000)),
                batch: Fixture.batch(0), events: [])) == nil)
            #expect(try await a.counts(client: "alpha") == ClientRequestCounts(stored: 2, running: 1))
        }
        try await tested.close()
    }

    @Test("released leases are taken at once, even long ones; a resume takes a lease only when no live replica holds it")
    func releaseAndResume() async throws {
        let tested = try await TestStore.open(.postgres, leaseMs: 60_000)
        let a = tested.store
        #expect(try await Fixture.admit(a, Fixture.request("r1")) == .admitted)
        try await tested.withReplica("replica-b") { b in
            let resume = RequestChange(state: .running, at: Fixture.ms(1_780_000_005_000))
            let refused = await #expect(throws: StoreError.self) {
                try await b.update(requestID: "r1", batches: [], change: resume, events: [])
            }
            #expect(refused?.kind == .leaseLost)
            #expect(try await a.releaseLeases() == 1)
            #expect(try await a.releaseLeases() == 1)  // still a's until taken
            try await b.update(requestID: "r1", batches: [], change: resume, events: [])
            #expect(try await b.renewLeases() == ["r1"])
            #expect(try await a.releaseLeases() == 0)
            #expect(try await b.claimExpiredLeases(limit: 10).isEmpty)
            #expect(try await a.claimExpiredLeases(limit: 10).isEmpty)
            #expect(try await b.releaseLeases() == 1)
            #expect(try await a.claimExpiredLeases(limit: 10).map(\.request.id) == ["r1"])
        }
        try await tested.close()
    }

    @Test("three replicas claiming 30 expired requests at once take each exactly once")
    func concurrentClaims() async throws {
        let tested = try await TestStore.open(.postgres, leaseMs: 1)
        for index in 0..<30 {
            let request = Fixture.request("r\(index)", created: 1_780_000_000_000 + Int64(index))
            #expect(
                try await Fixture.admit(tested.store, request, limits: AdmissionLimits(maxRunning: 100, maxStored: 100))
                    == .admitted)
        }
        try await Task.sleep(for: .milliseconds(50))
        let taken = try await tested.withReplica("replica-b") { b in
            try await tested.withReplica("replica-c") { c in
                try await tested.withReplica("replica-d") { d in
                    async let fromB = Self.claimAll(b)
                    async let fromC = Self.claimAll(c)
                    async let fromD = Self.claimAll(d)
                    return try await [fromB, fromC, fromD]
                }
            }
        }
        let all = taken.flatMap { $0 }
        #expect(all.count == 30)
        #expect(Set(all) == Set((0..<30).map { "r\($0)" }))
        try await tested.close()
    }

    /// Claims in batches of 4 until nothing is left.
    private static func claimAll(_ store: PostgresGatewayStore) async throws -> [String] {
        var ids: [String] = []
        while true {
            let batch = try await store.claimExpiredLeases(limit: 4)
            if batch.isEmpty { return ids }
            ids += batch.map(\.request.id)
        }
    }
}
