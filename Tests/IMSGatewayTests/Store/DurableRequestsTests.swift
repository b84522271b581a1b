import Foundation
import GatewayStore
import IMSGateway
import Testing

/// Requests in the SQLite store, end to end with the simulator: what a restart keeps, the write
/// transactions of one request, the per-client cap of stored requests.
@Suite("durable requests", .serialized)
struct DurableRequestsTests {
    static let images = testImages(2, seed: 13)
    static var body: [String: Any] { ["project_id": testProjectID, "images": images] }

    @Test("after a restart on the same store, a repeat with the key is replayed and GET answers, with no IMS call")
    func outcomeSurvivesRestart() async throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let path = folder.path("store.sqlite")
        let key = ("Idempotency-Key", "survives-restart")
        let first = try await withGateway(shared: Self.images, jobDuration: .milliseconds(200), storePath: path) { harness in
            let answer = try await harness.post("/accept-images", json: Self.body, headers: [key])
            #expect(answer.status == 200)
            return try answer.result()
        }
        #expect(first.batches.allSatisfy { $0.jobID != nil })
        try await withGateway(shared: Self.images, storePath: path) { harness in
            let repeated = try await harness.post("/accept-images", json: Self.body, headers: [key])
            #expect(repeated.status == 200)
            #expect(repeated.header("Idempotent-Replayed") == "true")
            let result = try repeated.result()
            #expect(result.requestID == first.requestID)
            #expect(result.batches.map(\.jobID) == first.batches.map(\.jobID))
            #expect(result.batches.map(\.state) == first.batches.map(\.state))
            #expect(result.elapsedMs == first.elapsedMs)
            let stored = try await harness.get("/accept-images/\(first.requestID)", key: testClientKey)
            #expect(stored.status == 200)
            #expect(try stored.result().batches.map(\.jobID) == first.batches.map(\.jobID))
            // Ten repeats at once: each finds the stored outcome (the first to reserve the key
            // reads the store; the others join it and follow it to the stored outcome).
            let answers = try await withThrowingTaskGroup(of: GatewayHarness.Answer.self) { group in
                for _ in 0..<10 { group.addTask { try await harness.post("/accept-images", json: Self.body, headers: [key]) } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(answers.map(\.status) == Array(repeating: 200, count: 10), "\(answers.map { String(decoding: $0.body, as: UTF8.self) })")
            #expect(try answers.map { try $0.result().requestID } == Array(repeating: first.requestID, count: 10))
            // Another body under the same key is still a conflict after the restart.
            var other = Self.body
            other["images"] = [Self.images[0]]
            #expect(try await harness.post("/accept-images", json: other, headers: [key]).status == 422)
            #expect(try await harness.simulatorCallsTotal() == 0)
        }
    }

    @Test("a one-batch request whose job ends by the first poll takes 3 write transactions: admit, job id, final")
    func threeWriteTransactions() async throws {
        let image = [Self.images[0]]
        try await withGateway(shared: image, jobDuration: .milliseconds(10)) { harness in
            let before = harness.store.writeTransactions
            let answer = try await harness.post(
                "/accept-images", json: ["project_id": testProjectID, "images": image],
                headers: [("Idempotency-Key", "three-writes")])
            #expect(answer.status == 200)
            let result = try answer.result()
            #expect(result.batches.map(\.polls) == [1])
            #expect(harness.store.writeTransactions - before == 3)
            let stored = try #require(try await harness.store.request(id: result.requestID))
            #expect(stored.request.state == .final)
            #expect(stored.attempts.map(\.jobID) == [result.batches[0].jobID])
            let events = try await harness.store.events(requestID: result.requestID, afterID: 0, limit: 10)
            // The batch's end and the result come in the final write.
            #expect(events.map(\.kind) == ["admitted", "batch", "batch", "result"])
            #expect(events.map(\.id) == [1, 2, 3, 4])
        }
    }

    @Test("a client at its cap of stored requests gets 429 for new keyed requests; unkeyed ones and other clients go on")
    func storedRequestsCap() async throws {
        let otherKey = "second-client-key-0123456789"
        let registry = ClientRegistry(entries: [
            ClientEntry(identity: ClientIdentity(name: "tester", projects: .all, rateLimit: .init(rate: 1000, burst: 1000)), keys: [testClientKey]),
            ClientEntry(identity: ClientIdentity(name: "other", projects: .all, rateLimit: .init(rate: 1000, burst: 1000)), keys: [otherKey]),
        ])
        try await withGateway(
            shared: Self.images, jobDuration: .milliseconds(10),
            adjust: { $0.clientAuthentication = .clients(registry); $0.outcomeMaxPerClient = 2 }
        ) { harness in
            for key in ["cap-1", "cap-2"] {
                #expect(try await harness.post("/accept-images", json: Self.body, headers: [("Idempotency-Key", key)]).status == 200)
            }
            let refused = try await harness.post("/accept-images", json: Self.body, headers: [("Idempotency-Key", "cap-3")])
            #expect(refused.status == 429)
            #expect((refused.json["type"] as? String)?.hasSuffix("too-many-stored-requests") == true)
            #expect(refused.header("Retry-After") != nil)
            // Its stored outcomes are kept: a repeat is replayed.
            let repeated = try await harness.post("/accept-images", json: Self.body, headers: [("Idempotency-Key", "cap-1")])
            #expect(repeated.status == 200)
            #expect(repeated.header("Idempotent-Replayed") == "true")
            #expect(try await harness.post("/accept-images", json: Self.body).status == 200)
            #expect(
                try await harness.post("/accept-images", json: Self.body, headers: [("Idempotency-Key", "cap-1")], key: otherKey)
                    .status == 200)
            #expect(try await harness.store.counts(client: "tester") == ClientRequestCounts(stored: 3, running: 0))
        }
    }

    @Test("a store that cannot be written refuses new requests with 503 (its path only in the log), /readyz stays 200 and says so, and nothing reaches IMS")
    func storeUnwritable() async throws {
        try await withGateway(shared: Self.images, adjust: { $0.probeProjectID = testProjectID }) { harness in
            let before = try await ReadinessTests.readyz(harness, until: 200)
            #expect(before.status == 200)
            let callsBefore = try await harness.simulatorCallsTotal()
            #expect((before.json["store"] as? [String: Any])?["reachable"] as? Bool == true)
            try harness.store.close()
            let answer = try await harness.post("/accept-images", json: Self.body, headers: [("Idempotency-Key", "no-store")])
            #expect(answer.status == 503)
            #expect((answer.json["type"] as? String)?.hasSuffix("store-unavailable") == true)
            #expect(answer.header("Retry-After") == "5")
            let detail = try #require(answer.json["detail"] as? String)
            #expect(!detail.contains(harness.store.path))
            #expect(detail.contains("cannot write its store"))
            #expect(try await harness.simulatorCallsTotal() == callsBefore)
            let read = try await harness.get("/accept-images/\(UUID().uuidString.lowercased())", key: testClientKey)
            #expect(read.status == 503)
            #expect((read.json["detail"] as? String)?.contains(harness.store.path) == false)
            let ready = try await harness.get("/readyz")
            #expect(ready.status == 200)
            let store = try #require(ready.json["store"] as? [String: Any])
            #expect(store["reachable"] as? Bool == false)
            #expect(store["failures"] as? Int == 2)
            #expect((store["error"] as? String).map { !$0.isEmpty && !$0.contains("/") } == true)
        }
    }
}
