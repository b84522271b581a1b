import Foundation
import GRDB
import GatewayStore
import Testing

@Suite("SQLite store: per-client counts kept by triggers")
struct ClientCountsTests {
    @Test("counts stay equal to the rows across admit, refusals, finish, resume, delete and reopen")
    func countsFollowTheRows() async throws {
        let folder = try TemporaryFolder()
        let path = folder.file("store.sqlite")
        var store = try Fixture.store(path)
        let base: Int64 = 1_780_000_000_000
        func expectCounts(_ client: String, stored: Int, running: Int, _ comment: Comment) async throws {
            #expect(
                try await store.counts(client: client) == ClientRequestCounts(stored: stored, running: running), comment)
        }

        try await expectCounts("alpha", stored: 0, running: 0, "nothing stored")
        for id in ["a1", "a2", "a3"] {
            #expect(try await Fixture.admit(store, Fixture.request(id, key: "key-\(id)")) == .admitted)
        }
        #expect(try await Fixture.admit(store, Fixture.request("b1", client: "beta")) == .admitted)
        try await expectCounts("alpha", stored: 3, running: 3, "admitted")
        try await expectCounts("beta", stored: 1, running: 1, "another client")

        // Neither a repeated key nor a refusal counts.
        guard case .existing = try await Fixture.admit(store, Fixture.request("a9", key: "key-a1")) else {
            Issue.record("a repeated key is not .existing")
            return
        }
        let tight = AdmissionLimits(maxRunning: 3, maxStored: 10)
        #expect(try await Fixture.admit(store, Fixture.request("a8"), limits: tight) == .tooManyRunning(limit: 3))
        try await expectCounts("alpha", stored: 3, running: 3, "repeat and refusal")

        // Leaving running, with or without batches and events; a second final write changes nothing.
        try await store.update(
            requestID: "a1", batches: [Fixture.batch(0, state: "succeeded")],
            change: RequestChange(state: .final, at: Fixture.ms(base + 1000)), events: Fixture.events("result"))
        try await store.update(
            requestID: "a1", batches: [], change: RequestChange(state: .final, at: Fixture.ms(base + 1100)), events: [])
        try await store.update(
            requestID: "a2", batches: [], change: RequestChange(state: .givenUp, at: Fixture.ms(base + 2000)), events: [])
        try await store.update(
            requestID: "a3", batches: [], change: RequestChange(state: .notSubmitted, at: Fixture.ms(base + 3000)),
            events: [])
        try await expectCounts("alpha", stored: 3, running: 0, "finished")
        // A batch-only update and the job-id and attempt writes leave the state alone.
        try await store.update(requestID: "b1", batches: [Fixture.batch(0, state: "pending")], change: nil, events: [])
        try await store.recordAttempt(
            SubmitAttemptRecord(requestID: "b1", batchIndex: 0, attempt: 1, startedAt: Fixture.ms(base)),
            batch: Fixture.batch(0, state: "submitting"), events: [])
        try await store.recordJobID(
            "job-1", requestID: "b1", batchIndex: 0, attempt: 1, batch: Fixture.batch(0, state: "pending"),
            events: Fixture.events("submitted"))
        try await expectCounts("beta", stored: 1, running: 1, "state unchanged")

        // Resumed by a repeat: running again; running to running changes nothing.
        for _ in 0..<2 {
            try await store.update(
                requestID: "a2", batches: [], change: RequestChange(state: .running, at: Fixture.ms(base + 4000)),
                events: [])
        }
        try await expectCounts("alpha", stored: 3, running: 1, "resumed")

        // Deleted: a1 and a3 (finished before the cut); a2 runs and stays.
        #expect(try await store.deleteFinished(finishedBefore: Fixture.ms(base + 10_000), limit: 100) == 2)
        try await expectCounts("alpha", stored: 1, running: 1, "deleted")

        // Kept across a reopen (they are rows, not memory).
        try store.close()
        store = try Fixture.store(path)
        try await expectCounts("alpha", stored: 1, running: 1, "reopened")
        try await expectCounts("beta", stored: 1, running: 1, "reopened")
        try store.close()

        // And they equal a count of the rows.
        let queue = try DatabaseQueue(path: path)
        let mismatches = try await queue.read { db in
            try Int.fetchOne(
                db,
                sql: """
                    SELECT COUNT(*) FROM client_counts c LEFT JOIN (
                        SELECT client, COUNT(*) AS stored, SUM(state = 'running') AS running FROM requests GROUP BY client
                    ) r ON r.client = c.client
                    WHERE c.stored IS NOT COALESCE(r.stored, 0) OR c.running IS NOT COALESCE(r.running, 0)
                    """)
        }
        #expect(mismatches == 0)
        try queue.close()
    }

    @Test("warnings and images with quotes, backslashes, control characters and any Unicode read back as written")
    func textRoundTrip() async throws {
        let folder = try TemporaryFolder()
        let path = folder.file("store.sqlite")
        let store = try Fixture.store(path)
        let odd = ["", "a\"b", "back\\slash", "tab\tnew\nline\r", "\u{0}\u{1}\u{1F}\u{7F}", "ünïcode ✓ 🇫🇷", "a/b", "]\",["]
        var request = Fixture.request("r1")
        request.warnings = odd
        let batch = BatchRecord(index: 0, images: odd, state: "queued")
        #expect(
            try await store.admit(request, batches: [batch], attempts: [], limits: Fixture.limits, events: [])
                == .admitted)
        let snapshot = try #require(try await store.request(id: "r1"))
        #expect(snapshot.request.warnings == odd)
        #expect(snapshot.batches.first?.images == odd)
        try await store.update(
            requestID: "r1", batches: [], change: RequestChange(state: .final, at: Fixture.ms(1_780_000_001_000), warnings: []),
            events: [])
        #expect(try await store.request(id: "r1")?.request.warnings == [])
        try store.close()

        // What the store wrote is JSON any reader takes.
        let queue = try DatabaseQueue(path: path)
        let images = try await queue.read { db in try String.fetchOne(db, sql: "SELECT images FROM batches") }
        #expect(try JSONDecoder().decode([String].self, from: Data(try #require(images).utf8)) == odd)
        // And rows that JSONEncoder wrote (escaped slashes, \u escapes) read back.
        let encoded = String(decoding: try JSONEncoder().encode(odd), as: UTF8.self)
        try await queue.write { db in
            try db.execute(sql: "UPDATE batches SET images = ?", arguments: [encoded])
            try db.execute(sql: "UPDATE requests SET warnings = ?", arguments: [" [ \"\\u00e9\\ud83d\\ude00\" , \"x\\/y\" ] "])
        }
        try queue.close()
        let reopened = try Fixture.store(path)
        let again = try #require(try await reopened.request(id: "r1"))
        #expect(again.batches.first?.images == odd)
        #expect(again.request.warnings == ["é😀", "x/y"])
        try reopened.close()
    }

    @Test("a column that is not a JSON array of strings is corrupt")
    func corruptText() async throws {
        let folder = try TemporaryFolder()
        let path = folder.file("store.sqlite")
        let store = try Fixture.store(path)
        #expect(try await Fixture.admit(store, Fixture.request("r1")) == .admitted)
        try store.close()
        for text in ["", "[", "[\"a\"", "[\"a\",]", "[1]", "{}", "[\"a\"] x", "[\"\\x\"]", "[\"\\ud800\"]", "[\"a\u{1}\"]"] {
            let queue = try DatabaseQueue(path: path)
            try await queue.write { db in try db.execute(sql: "UPDATE batches SET images = ?", arguments: [text]) }
            try queue.close()
            let reopened = try Fixture.store(path)
            let error = await #expect(throws: StoreError.self, "\(text)") { _ = try await reopened.request(id: "r1") }
            #expect(error?.kind == .corrupt, "\(text)")
            try reopened.close()
        }
    }
}
