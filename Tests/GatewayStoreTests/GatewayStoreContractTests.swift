import Foundation
import GatewayStore
import PostgresTestSupport
import Testing

@Suite("Store contract: SQLite and PostgreSQL")
struct GatewayStoreContractTests {
    @Test("admit stores the request, its batches, attempts and events; a repeat key returns it", arguments: StoreEngine.available)
    func admitAndExisting(engine: StoreEngine) async throws {
        let tested = try await TestStore.open(engine)
        let store = tested.store
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
        try await tested.close()
    }

    @Test("admit refuses over the running limit, then over the stored limit", arguments: StoreEngine.available)
    func limits(engine: StoreEngine) async throws {
        let tested = try await TestStore.open(engine)
        let store = tested.store
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
        try await tested.close()
    }

    @Test("attempt, job id and final update read back as written; events resume with no gap; 3 write transactions", arguments: StoreEngine.available)
    func lifecycle(engine: StoreEngine) async throws {
        let tested = try await TestStore.open(engine)
        let store = tested.store
        #expect(tested.writeTransactions == 0)

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
        #expect(tested.writeTransactions == 3)

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
        try await tested.close()
    }

    @Test("writes naming an unknown request are notFound", arguments: StoreEngine.available)
    func notFound(engine: StoreEngine) async throws {
        let tested = try await TestStore.open(engine)
        let store = tested.store
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
        #expect(tested.writeTransactions == 0)
        try await tested.close()
    }

    @Test("deleteFinished deletes finished rows older than the cut, oldest first, at most limit, cascading", arguments: StoreEngine.available)
    func deleteFinished(engine: StoreEngine) async throws {
        let tested = try await TestStore.open(engine)
        let store = tested.store
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

        // The cascade left no orphan rows.
        for table in ["batches", "submit_attempts", "request_events"] {
            #expect(try await tested.rows(table, requestID: "run", equal: false) == 0, "\(table)")
            #expect(try await tested.rows(table, requestID: "run") == 1, "\(table)")
        }
        try await tested.close()
    }

    @Test("many concurrent admissions of one key store one request", arguments: StoreEngine.available)
    func concurrentKey(engine: StoreEngine) async throws {
        let tested = try await TestStore.open(engine)
        let store = tested.store
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
        try await tested.close()
        let closed = try await #require(throws: StoreError.self) { try await store.counts(client: "alpha") }
        #expect(closed.kind == .unavailable, "\(closed.message)")
    }

    @Test("a failed admission (a duplicate request id) counts nothing: the transaction rolls back", arguments: StoreEngine.available)
    func rollback(engine: StoreEngine) async throws {
        let tested = try await TestStore.open(engine)
        let store = tested.store
        #expect(try await Fixture.admit(store, Fixture.request("a1")) == .admitted)
        let error = await #expect(throws: StoreError.self) { _ = try await Fixture.admit(store, Fixture.request("a1")) }
        #expect(error?.kind == .failed)
        #expect(try await store.counts(client: "alpha") == ClientRequestCounts(stored: 1, running: 1))
        // The store is usable after the rollback.
        #expect(try await Fixture.admit(store, Fixture.request("a2")) == .admitted)
        #expect(try await store.counts(client: "alpha") == ClientRequestCounts(stored: 2, running: 2))
        #expect(tested.writeTransactions == 2)
        try await tested.close()
    }

    @Test("text with quotes, backslashes, control characters and any Unicode reads back as written", arguments: StoreEngine.available)
    func textRoundTrip(engine: StoreEngine) async throws {
        let tested = try await TestStore.open(engine)
        let store = tested.store
        let odd = ["", "a\"b", "back\\slash", "tab\tnew\nline\r", "\u{0}\u{1}\u{1F}\u{7F}", "ünïcode ✓ 🇫🇷", "a/b", "]\",["]
        var request = Fixture.request("r1", key: "ключ ✓ \"k\"")
        request.warnings = odd
        request.correlationID = "corr ünï ✓"
        let batch = BatchRecord(
            index: 0, images: odd, state: "failed", failReason: "IMS said: \"ошибка\" \\ 🇫🇷",
            resultsJSON: "[{\"image_id\":\"img-ü\",\"status\":\"failed\"}]")
        let events = [NewEvent(kind: "batch", data: "{\"reason\":\"ü\\n\\u0000\"}")]
        #expect(
            try await store.admit(request, batches: [batch], attempts: [], limits: Fixture.limits, events: events)
                == .admitted)
        let snapshot = try #require(try await store.request(client: "alpha", idempotencyKey: "ключ ✓ \"k\""))
        #expect(snapshot.request.warnings == odd)
        #expect(snapshot.request.correlationID == "corr ünï ✓")
        #expect(snapshot.batches == [batch])
        #expect(try await store.events(requestID: "r1", afterID: 0, limit: 5).map(\.data) == events.map(\.data))
        try await tested.close()
    }

    @Test("a NUL in upstream text (a job's fail_reason) is stored as U+FFFD, the rest kept", arguments: StoreEngine.available)
    func nulInText(engine: StoreEngine) async throws {
        let tested = try await TestStore.open(engine)
        let store = tested.store
        #expect(try await Fixture.admit(store, Fixture.request("r1")) == .admitted)
        var batch = BatchRecord(index: 0, images: ["img-1"], state: "failed")
        batch.jobID = "job\u{0}1"
        batch.failReason = "disk\u{0}full"
        batch.errorCode = "IMS.\u{0}"
        try await store.update(
            requestID: "r1", batches: [batch], change: nil, events: [NewEvent(kind: "batch\u{0}", data: "{}")])
        let stored = try #require(try await store.request(id: "r1")).batches[0]
        let nul = "\u{FFFD}"
        #expect(stored.failReason == "disk\(nul)full")
        #expect(stored.jobID == "job\(nul)1")
        #expect(stored.errorCode == "IMS.\(nul)")
        #expect(try await store.events(requestID: "r1", afterID: 0, limit: 5).map(\.kind).last == "batch\(nul)")
        try await tested.close()
    }
}
