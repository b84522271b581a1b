import Foundation
import GRDB
import GatewayStore
import Testing

@Suite("SQLite store: requests")
struct SQLiteGatewayStoreTests {
    @Test("admit stores the request, its batches, attempts and events; a repeat key returns it")
    func admitAndExisting() async throws {
        let folder = try TemporaryFolder()
        let store = try Fixture.store(folder.file("store.sqlite"))
        let request = Fixture.request("r1", key: "key-1")
        let attempt = SubmitAttemptRecord(requestID: "r1", batchIndex: 0, attempt: 1, startedAt: Fixture.ms(1_780_000_000_200))
        let admission = try await store.admit(
            request, batches: [Fixture.batch(0, state: "submitting"), Fixture.batch(1)], attempts: [attempt],
            limits: Fixture.limits, events: Fixture.events("admitted", "batch"))
        #expect(admission == .admitted)

        var expected = request
        expected.eventCounter = 2
        let snapshot = try #require(try await store.request(id: "r1"))
        #expect(snapshot.request == expected)
        #expect(snapshot.batches == [Fixture.batch(0, state: "submitting"), Fixture.batch(1)])
        #expect(snapshot.attempts == [attempt])
        #expect(try await store.request(client: "alpha", idempotencyKey: "key-1") == snapshot)
        #expect(try await store.request(client: "beta", idempotencyKey: "key-1") == nil)
        #expect(try await store.request(id: "nope") == nil)

        let events = try await store.events(requestID: "r1", afterID: 0, limit: 10)
        #expect(events.map(\.id) == [1, 2])
        #expect(events.map(\.kind) == ["admitted", "batch"])
        #expect(events.map(\.data) == ["{\"k\":\"admitted\"}", "{\"k\":\"batch\"}"])

        // Same client, same key, another body: the stored one comes back, nothing written.
        var repeatRequest = Fixture.request("r2", key: "key-1")
        repeatRequest.bodyDigest = "other"
        let repeated = try await Fixture.admit(store, repeatRequest)
        #expect(repeated == .existing(snapshot))
        #expect(try await store.request(id: "r2") == nil)
        #expect(try await store.counts(client: "alpha") == ClientRequestCounts(stored: 1, running: 1))

        // Another client with the same key is admitted.
        #expect(try await Fixture.admit(store, Fixture.request("r3", client: "beta", key: "key-1")) == .admitted)
        #expect(try await store.request(client: "beta", idempotencyKey: "key-1")?.request.id == "r3")
        #expect(try await store.counts(client: "beta") == ClientRequestCounts(stored: 1, running: 1))
        // Requests without a key never collide.
        #expect(try await Fixture.admit(store, Fixture.request("r4")) == .admitted)
        #expect(try await Fixture.admit(store, Fixture.request("r5")) == .admitted)
        #expect(try await store.counts(client: "alpha") == ClientRequestCounts(stored: 3, running: 3))
        try store.close()
    }

    @Test("admit refuses over the running limit, then over the stored limit")
    func limits() async throws {
        let folder = try TemporaryFolder()
        let store = try Fixture.store(folder.file("store.sqlite"))
        let limits = AdmissionLimits(maxRunning: 2, maxStored: 3)
        #expect(try await Fixture.admit(store, Fixture.request("a"), limits: limits) == .admitted)
        #expect(try await Fixture.admit(store, Fixture.request("b"), limits: limits) == .admitted)
        #expect(try await Fixture.admit(store, Fixture.request("c"), limits: limits) == .tooManyRunning(limit: 2))
        #expect(try await store.request(id: "c") == nil)
        // Another client is not counted.
        #expect(try await Fixture.admit(store, Fixture.request("x", client: "beta"), limits: limits) == .admitted)

        try await store.update(
            requestID: "a", batches: [], change: RequestChange(state: .final, at: Fixture.ms(1_780_000_001_000)),
            events: [])
        #expect(try await store.counts(client: "alpha") == ClientRequestCounts(stored: 2, running: 1))
        #expect(try await Fixture.admit(store, Fixture.request("c"), limits: limits) == .admitted)
        try await store.update(
            requestID: "b", batches: [], change: RequestChange(state: .givenUp, at: Fixture.ms(1_780_000_001_000)),
            events: [])
        #expect(try await Fixture.admit(store, Fixture.request("d"), limits: limits) == .tooManyStored(limit: 3))
        #expect(try await store.request(id: "d") == nil)
        #expect(try await store.counts(client: "alpha") == ClientRequestCounts(stored: 3, running: 1))
        try store.close()
    }

    @Test("attempt, job id and final update read back as written; events resume with no gap; 3 write transactions")
    func lifecycle() async throws {
        let folder = try TemporaryFolder()
        let store = try Fixture.store(folder.file("store.sqlite"))
        #expect(store.writeTransactions == 0)

        // The short path: admitted with its first attempt, job id, final after one poll.
        let request = Fixture.request("r1", key: "k")
        let started = Fixture.ms(1_780_000_000_124)
        let submitting = BatchRecord(index: 0, images: ["img-a"], state: "submitting", submitAttempts: 1)
        let first = SubmitAttemptRecord(requestID: "r1", batchIndex: 0, attempt: 1, startedAt: started)
        #expect(
            try await store.admit(
                request, batches: [submitting], attempts: [first], limits: Fixture.limits,
                events: Fixture.events("admitted")) == .admitted)
        let submittedAt = Fixture.ms(1_780_000_000_321)
        let pending = BatchRecord(
            index: 0, images: ["img-a"], state: "pending", jobID: "job-1", submitAttempts: 1, submittedAt: submittedAt)
        try await store.recordJobID(
            "job-1", requestID: "r1", batchIndex: 0, attempt: 1, batch: pending, events: Fixture.events("batch"))
        let done = BatchRecord(
            index: 0, images: ["img-a"], state: "succeeded", jobID: "job-1", jobStatus: "SUCCESS", polls: 1,
            submitAttempts: 1, errorCode: nil, failReason: nil, beginTime: "2026-12-03T06:00:00Z",
            endTime: "2026-12-03T06:00:01Z", resultsJSON: "[{\"image_id\":\"img-a\",\"status\":\"success\"}]",
            submittedAt: submittedAt)
        let finishedAt = Fixture.ms(1_780_000_001_999)
        try await store.update(
            requestID: "r1", batches: [done],
            change: RequestChange(
                state: .final, at: finishedAt, elapsedMs: 1876, deadline: Fixture.ms(1_780_000_040_001),
                backgroundUntil: nil),
            events: Fixture.events("batch", "result"))
        #expect(store.writeTransactions == 3)

        var expected = request
        expected.state = .final
        expected.eventCounter = 4
        expected.updatedAt = finishedAt
        expected.finishedAt = finishedAt
        expected.elapsedMs = 1876
        expected.deadline = Fixture.ms(1_780_000_040_001)
        let snapshot = try #require(try await store.request(id: "r1"))
        #expect(snapshot.request == expected)
        #expect(snapshot.batches == [done])
        var firstWithJob = first
        firstWithJob.jobID = "job-1"
        #expect(snapshot.attempts == [firstWithJob])
        #expect(try await store.runningRequests().isEmpty)

        // A retry on another request: recordAttempt, then a job id for an attempt never recorded.
        #expect(try await Fixture.admit(store, Fixture.request("r2")) == .admitted)
        let second = SubmitAttemptRecord(requestID: "r2", batchIndex: 0, attempt: 1, startedAt: started)
        try await store.recordAttempt(
            second, batch: BatchRecord(index: 0, images: ["img-0-a"], state: "submitting", submitAttempts: 1),
            events: Fixture.events("attempt"))
        try await store.recordJobID(
            "job-2", requestID: "r2", batchIndex: 0, attempt: 2,
            batch: BatchRecord(index: 0, images: ["img-0-a"], state: "pending", jobID: "job-2", submitAttempts: 2,
                submittedAt: submittedAt),
            events: [])
        let r2 = try #require(try await store.request(id: "r2"))
        #expect(r2.attempts.map(\.attempt) == [1, 2])
        #expect(r2.attempts.map(\.jobID) == [nil, "job-2"])
        #expect(r2.attempts[1].startedAt == submittedAt)
        #expect(r2.batches.first?.state == "pending")
        #expect(r2.request.eventCounter == 2)
        #expect(r2.request.state == .running)
        // recordJobID works whatever the state.
        try await store.update(
            requestID: "r2", batches: [], change: RequestChange(state: .givenUp, at: finishedAt), events: [])
        try await store.recordJobID(
            "job-3", requestID: "r2", batchIndex: 0, attempt: 2,
            batch: BatchRecord(index: 0, images: ["img-0-a"], state: "pending", jobID: "job-3"), events: [])
        #expect(try await store.request(id: "r2")?.attempts.last?.jobID == "job-3")
        // The batch row had job-2 already: the late write changed only the attempt.
        #expect(try await store.request(id: "r2")?.batches.first?.jobID == "job-2")
        // A late job-id write after the final state never replaces it.
        let final = BatchRecord(
            index: 0, images: ["img-0-a"], state: "succeeded", jobID: "job-2", jobStatus: "SUCCESS", polls: 3,
            submitAttempts: 2)
        try await store.update(requestID: "r2", batches: [final], change: nil, events: [])
        try await store.recordJobID(
            "job-2", requestID: "r2", batchIndex: 0, attempt: 2,
            batch: BatchRecord(index: 0, images: ["img-0-a"], state: "pending", jobID: "job-2", submitAttempts: 2),
            events: Fixture.events("late"))
        let afterLate = try #require(try await store.request(id: "r2"))
        #expect(afterLate.batches == [final])
        #expect(afterLate.request.eventCounter == 2)
        // Warnings are replaced only when given.
        try await store.update(
            requestID: "r2", batches: [],
            change: RequestChange(state: .givenUp, at: finishedAt, warnings: ["batch 0: submitted again"]), events: [])
        try await store.update(requestID: "r2", batches: [], change: RequestChange(state: .givenUp, at: finishedAt), events: [])
        #expect(try await store.request(id: "r2")?.request.warnings == ["batch 0: submitted again"])
        // Back to running clears finished_at.
        try await store.update(
            requestID: "r2", batches: [], change: RequestChange(state: .running, at: finishedAt), events: [])
        let resumed = try #require(try await store.request(id: "r2"))
        #expect(resumed.request.finishedAt == nil)
        #expect(resumed.request.state == .running)

        // Events in order, resumable with no gap or repeat.
        let all = try await store.events(requestID: "r1", afterID: 0, limit: 100)
        #expect(all.map(\.id) == [1, 2, 3, 4])
        #expect(all.map(\.kind) == ["admitted", "batch", "batch", "result"])
        #expect(all.allSatisfy { $0.requestID == "r1" })
        var resumedEvents: [RequestEvent] = []
        var last: Int64 = 0
        while true {
            let page = try await store.events(requestID: "r1", afterID: last, limit: 3)
            guard let end = page.last else { break }
            resumedEvents += page
            last = end.id
        }
        #expect(resumedEvents == all)
        #expect(try await store.events(requestID: "r1", afterID: 2, limit: 1).map(\.id) == [3])
        #expect(try await store.events(requestID: "r1", afterID: 4, limit: 10).isEmpty)
        try store.close()
    }

    @Test("writes naming an unknown request are notFound")
    func notFound() async throws {
        let folder = try TemporaryFolder()
        let store = try Fixture.store(folder.file("store.sqlite"))
        let attempt = SubmitAttemptRecord(requestID: "ghost", batchIndex: 0, attempt: 1, startedAt: Fixture.ms(1))
        let writes: [@Sendable () async throws -> Void] = [
            { try await store.update(requestID: "ghost", batches: [], change: nil, events: Fixture.events("x")) },
            { try await store.recordAttempt(attempt, batch: Fixture.batch(0), events: []) },
            {
                try await store.recordJobID(
                    "job", requestID: "ghost", batchIndex: 0, attempt: 1, batch: Fixture.batch(0), events: [])
            },
        ]
        for write in writes {
            let error = try await #require(throws: StoreError.self) { try await write() }
            #expect(error.kind == .notFound)
            #expect(!error.message.contains("ghost"))
        }
        #expect(store.writeTransactions == 0)
        try store.close()
    }

    @Test("data survives close and reopen: running requests come back, oldest first")
    func restart() async throws {
        let folder = try TemporaryFolder()
        let path = folder.file("store.sqlite")
        do {
            let store = try Fixture.store(path)
            #expect(try await Fixture.admit(store, Fixture.request("late", created: 1_780_000_009_000)) == .admitted)
            #expect(try await Fixture.admit(store, Fixture.request("early", created: 1_780_000_001_000)) == .admitted)
            #expect(try await Fixture.admit(store, Fixture.request("done", created: 1_780_000_000_000)) == .admitted)
            try await store.update(
                requestID: "done", batches: [], change: RequestChange(state: .final, at: Fixture.ms(1_780_000_002_000)),
                events: Fixture.events("result"))
            try store.close()
        }
        // Closed, the store is one file: the WAL was folded back into it.
        let wal = (try? FileManager.default.attributesOfItem(atPath: path + "-wal")[.size] as? Int) ?? 0
        #expect(wal == 0)
        let alone = folder.file("alone.sqlite")
        try FileManager.default.copyItem(atPath: path, toPath: alone)
        let copied = try SQLiteGatewayStore(path: alone, gatewayVersion: "0.4.0", logger: Fixture.logger)
        #expect(try await copied.request(id: "done")?.request.state == .final)
        try copied.close()
        let reopened = try SQLiteGatewayStore(path: path, gatewayVersion: "0.4.0", logger: Fixture.logger)
        try reopened.checkSchema()
        let running = try await reopened.runningRequests()
        #expect(running.map(\.request.id) == ["early", "late"])
        var expected = Fixture.request("early", created: 1_780_000_001_000)
        expected.eventCounter = 1
        #expect(running.first?.request == expected)
        #expect(running.first?.batches == [Fixture.batch(0)])
        #expect(try await reopened.request(id: "done")?.request.state == .final)
        #expect(try await reopened.events(requestID: "done", afterID: 0, limit: 10).map(\.id) == [1, 2])
        try reopened.close()
    }

    @Test("deleteFinished deletes finished rows older than the cut, oldest first, at most limit, cascading")
    func deleteFinished() async throws {
        let folder = try TemporaryFolder()
        let path = folder.file("store.sqlite")
        let store = try Fixture.store(path)
        let base: Int64 = 1_780_000_000_000
        // f1, f2, f3 finished at base+1s, +2s, +3s; f9 at +9s; "run" running; "given" given up at +1.5s.
        for (id, finished) in [("f3", 3), ("f1", 1), ("f2", 2), ("f9", 9)] {
            #expect(try await Fixture.admit(store, Fixture.request(id)) == .admitted)
            try await store.update(
                requestID: id, batches: [],
                change: RequestChange(state: .final, at: Fixture.ms(base + Int64(finished) * 1000)),
                events: Fixture.events("result"))
        }
        #expect(try await Fixture.admit(store, Fixture.request("given")) == .admitted)
        try await store.update(
            requestID: "given", batches: [], change: RequestChange(state: .givenUp, at: Fixture.ms(base + 1500)),
            events: [])
        #expect(
            try await store.admit(
                Fixture.request("run"), batches: [Fixture.batch(0)],
                attempts: [SubmitAttemptRecord(requestID: "run", batchIndex: 0, attempt: 1, startedAt: Fixture.ms(base))],
                limits: Fixture.limits, events: Fixture.events("admitted")) == .admitted)
        #expect(
            try await store.admit(
                Fixture.request("f1x"), batches: [Fixture.batch(0)],
                attempts: [SubmitAttemptRecord(requestID: "f1x", batchIndex: 0, attempt: 1, startedAt: Fixture.ms(base))],
                limits: Fixture.limits, events: Fixture.events("admitted")) == .admitted)
        try await store.update(
            requestID: "f1x", batches: [], change: RequestChange(state: .notSubmitted, at: Fixture.ms(base + 500)),
            events: [])

        let cut = Fixture.ms(base + 5000)
        #expect(try await store.deleteFinished(finishedBefore: cut, limit: 2) == 2)
        #expect(try await store.request(id: "f1x") == nil)
        #expect(try await store.request(id: "f1") == nil)
        #expect(try await store.request(id: "given") != nil)
        #expect(try await store.deleteFinished(finishedBefore: cut, limit: 100) == 3)
        #expect(try await store.deleteFinished(finishedBefore: cut, limit: 100) == 0)
        #expect(try await store.deleteFinished(finishedBefore: Fixture.ms(base + 9000), limit: 100) == 0)
        #expect(try await store.deleteFinished(finishedBefore: cut, limit: 0) == 0)
        #expect(try await store.request(id: "f9") != nil)
        #expect(try await store.request(id: "run") != nil)
        #expect(try await store.counts(client: "alpha") == ClientRequestCounts(stored: 2, running: 1))
        // A running request is never deleted, whatever the cut.
        #expect(try await store.deleteFinished(finishedBefore: Fixture.ms(base + 100_000), limit: 100) == 1)
        #expect(try await store.runningRequests().map(\.request.id) == ["run"])
        try store.close()

        // The cascade left no orphan rows.
        let queue = try DatabaseQueue(path: path)
        let orphans = try await queue.read { db in
            try ["batches", "submit_attempts", "request_events"].map { table in
                try Int.fetchOne(
                    db, sql: "SELECT COUNT(*) FROM \(table) WHERE request_id <> 'run'") ?? -1
            }
        }
        #expect(orphans == [0, 0, 0])
        let kept = try await queue.read { db in
            try ["batches", "submit_attempts", "request_events"].map { table in
                try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM \(table) WHERE request_id = 'run'") ?? -1
            }
        }
        #expect(kept == [1, 1, 1])
        try queue.close()
    }

    @Test("backup: the copy opens as a store with the same requests; an existing file is not overwritten")
    func backup() async throws {
        let folder = try TemporaryFolder()
        let store = try Fixture.store(folder.file("store.sqlite"))
        #expect(try await Fixture.admit(store, Fixture.request("a", key: "ka")) == .admitted)
        #expect(try await Fixture.admit(store, Fixture.request("b")) == .admitted)
        let copyPath = folder.file("copy.sqlite")
        try store.backup(to: copyPath)

        let existing = folder.file("existing.sqlite")
        try Data("keep me".utf8).write(to: URL(fileURLWithPath: existing))
        let error = try #require(throws: StoreError.self) { try store.backup(to: existing) }
        #expect(error.kind == .failed)
        #expect(error.message.contains(existing))
        #expect(try Data(contentsOf: URL(fileURLWithPath: existing)) == Data("keep me".utf8))
        let again = try #require(throws: StoreError.self) { try store.backup(to: copyPath) }
        #expect(again.kind == .failed)

        let originalA = try await store.request(id: "a")
        let originalB = try await store.request(id: "b")
        let copy = try SQLiteGatewayStore(path: copyPath, gatewayVersion: "0.4.0", logger: Fixture.logger)
        try copy.checkSchema()
        #expect(try await copy.request(id: "a") == originalA)
        #expect(try await copy.request(id: "b") == originalB)
        #expect(try await copy.request(client: "alpha", idempotencyKey: "ka") == originalA)
        #expect(try await copy.runningRequests().map(\.request.id).sorted() == ["a", "b"])
        #expect(try await copy.events(requestID: "a", afterID: 0, limit: 10).map(\.kind) == ["admitted"])
        try copy.close()

        // The offline form (ims-gateway backup, while serve holds the lock): a 0600 copy.
        let offline = folder.file("offline.sqlite")
        try SQLiteGatewayStore.backup(storeAt: folder.file("store.sqlite"), to: offline)
        let mode = try FileManager.default.attributesOfItem(atPath: offline)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let offlineCopy = try SQLiteGatewayStore(path: offline, gatewayVersion: "0.4.0", logger: Fixture.logger)
        #expect(try await offlineCopy.request(id: "a") == originalA)
        try offlineCopy.close()
        let refused = try #require(throws: StoreError.self) {
            try SQLiteGatewayStore.backup(storeAt: folder.file("store.sqlite"), to: offline)
        }
        #expect(refused.kind == .failed)
        // Never through a symbolic link (a dangling one would create its target).
        let link = folder.file("link.sqlite")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: folder.file("victim.sqlite"))
        #expect(throws: StoreError.self) { try SQLiteGatewayStore.backup(storeAt: folder.file("store.sqlite"), to: link) }
        #expect(!FileManager.default.fileExists(atPath: folder.file("victim.sqlite")))
        try store.close()
    }

    @Test("many concurrent admissions of one key store one request")
    func concurrentKey() async throws {
        let folder = try TemporaryFolder()
        let store = try Fixture.store(folder.file("store.sqlite"))
        let results = try await withThrowingTaskGroup(of: Admission.self) { group in
            for index in 0..<20 {
                group.addTask { try await Fixture.admit(store, Fixture.request("r\(index)", key: "same")) }
            }
            var all: [Admission] = []
            for try await result in group { all.append(result) }
            return all
        }
        #expect(results.filter { $0 == .admitted }.count == 1)
        #expect(try await store.counts(client: "alpha") == ClientRequestCounts(stored: 1, running: 1))
        try store.close()
        try store.close()
        let closed = try await #require(throws: StoreError.self) { try await store.counts(client: "alpha") }
        #expect(closed.kind == .unavailable)
    }
}
