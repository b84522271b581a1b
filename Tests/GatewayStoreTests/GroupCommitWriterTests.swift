import Dispatch
import Foundation
import GRDB
import Testing

@testable import GatewayStore

@Suite("SQLite store: group commit", .serialized)
struct GroupCommitWriterTests {
    /// Holds SQLite's write lock on `path` from another connection until `release` is signalled.
    private static func holdWriteLock(_ path: String, release: DispatchSemaphore) throws -> DispatchSemaphore {
        let blocker = try DatabaseQueue(path: path)
        let held = DispatchSemaphore(value: 0)
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            try? blocker.inDatabase { db in
                try db.execute(sql: "BEGIN IMMEDIATE TRANSACTION")
                held.signal()
                release.wait()
                try db.execute(sql: "COMMIT TRANSACTION")
            }
            done.signal()
        }
        held.wait()
        return done
    }

    @Test("writes that wait behind a busy writer share one commit; each is atomic on its own")
    func grouped() async throws {
        let folder = try TemporaryFolder()
        let path = folder.file("store.sqlite")
        // A busy timeout far longer than the test: the first write waits for the lock however
        // slowly the other suites let the next ten tasks run.
        let store = try SQLiteGatewayStore(path: path, gatewayVersion: Fixture.version, busyTimeoutMs: 600_000, logger: Fixture.logger)
        try store.migrate()
        let limits = AdmissionLimits(maxRunning: 100, maxStored: 100)
        #expect(try await Fixture.admit(store, Fixture.request("r0"), limits: limits) == .admitted)
        let writesBefore = store.writeTransactions
        let commitsBefore = store.commits

        let release = DispatchSemaphore(value: 0)
        defer { release.signal() }  // never leave the lock held when an expectation throws
        let done = try Self.holdWriteLock(path, release: release)
        // The first write takes the writer and waits for the lock...
        let first = Task { try await Fixture.admit(store, Fixture.request("first"), limits: limits) }
        try await eventually { store.writesWaiting == (true, 0) }
        // ...the next ten wait behind it: eight good ones, one that is refused before it writes
        // anything, and one that fails halfway (its request row is written, then its attempt
        // names a request that does not exist: a foreign key error).
        let good = (1...8).map { index in Task { try await Fixture.admit(store, Fixture.request("r\(index)"), limits: limits) } }
        let ghost = Task {
            try await store.recordAttempt(
                SubmitAttemptRecord(requestID: "ghost", batchIndex: 0, attempt: 1, startedAt: Fixture.ms(1)),
                batch: Fixture.batch(0), events: [])
        }
        let halfway = Task {
            try await store.admit(
                Fixture.request("halfway"), batches: [Fixture.batch(0)],
                attempts: [SubmitAttemptRecord(requestID: "nobody", batchIndex: 0, attempt: 1, startedAt: Fixture.ms(1))],
                limits: limits, events: Fixture.events("admitted"))
        }
        try await eventually { store.writesWaiting == (true, 10) }
        release.signal()
        done.wait()

        #expect(try await first.value == .admitted)
        for task in good { #expect(try await task.value == .admitted) }
        await #expect(throws: StoreError.self) { try await ghost.value }
        await #expect(throws: StoreError.self) { try await halfway.value }
        // One commit for the first write, one for the ten behind it.
        #expect(store.commits - commitsBefore == 2)
        #expect(store.writeTransactions - writesBefore == 9)
        for index in 1...8 { #expect(try await store.request(id: "r\(index)") != nil) }
        #expect(try await store.request(id: "first") != nil)
        // The half-done write left nothing: its savepoint was rolled back.
        #expect(try await store.request(id: "halfway") == nil)
        #expect(try await store.counts(client: "alpha") == ClientRequestCounts(stored: 10, running: 10))
        try store.close()
    }

    @Test("one write alone is its own transaction; a failed one leaves nothing")
    func alone() async throws {
        let folder = try TemporaryFolder()
        let store = try Fixture.store(folder.file("store.sqlite"))
        await #expect(throws: StoreError.self) {
            try await store.admit(
                Fixture.request("halfway"), batches: [Fixture.batch(0)],
                attempts: [SubmitAttemptRecord(requestID: "nobody", batchIndex: 0, attempt: 1, startedAt: Fixture.ms(1))],
                limits: Fixture.limits, events: Fixture.events("admitted"))
        }
        #expect(try await store.request(id: "halfway") == nil)
        #expect(store.commits == 0)
        #expect(try await Fixture.admit(store, Fixture.request("r1")) == .admitted)
        #expect(store.commits == 1)
        #expect(store.writeTransactions == 1)
        try store.close()
    }

    /// Waits (real time, at most 60 s: other suites may keep the cooperative threads busy)
    /// until `condition` holds.
    private func eventually(_ condition: () -> Bool) async throws {
        let limit = ContinuousClock.now.advanced(by: .seconds(60))
        while !condition() {
            guard ContinuousClock.now < limit else { throw StoreError(.failed, "never happened") }
            try await Task.sleep(for: .milliseconds(2))
        }
    }
}
