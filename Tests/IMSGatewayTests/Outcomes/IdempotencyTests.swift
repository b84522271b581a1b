import Foundation
import IMSGateway
import Testing

/// `Idempotency-Key` and stored outcomes end to end: a repeat never submits again, a 504 is
/// followed by a background wait whose final outcome a repeat or a `GET` returns.
@Suite("idempotent retries and stored outcomes", .serialized)
struct IdempotencyTests {
    static let images = testImages(2, seed: 7)
    static var body: [String: Any] { ["project_id": testProjectID, "images": images] }

    static func configure(_ configuration: inout GatewayConfiguration) {
        configuration.maxImagesPerJob = 1
    }

    @Test("a repeat during the wait joins it: one submit per batch, the same outcome for both")
    func repeatDuringWait() async throws {
        try await withGateway(shared: Self.images, jobDuration: .milliseconds(1500), adjust: Self.configure) { harness in
            let key = ("Idempotency-Key", "\"retry-during-wait\"")
            async let first = harness.post("/accept-images", json: Self.body, headers: [key, ("Prefer", "wait=30")])
            try await Task.sleep(for: .milliseconds(500))
            let second = try await harness.post("/accept-images", json: Self.body, headers: [key, ("Prefer", "wait=30")])
            let firstAnswer = try await first
            #expect(firstAnswer.status == 200)
            #expect(second.status == 200)
            let firstResult = try firstAnswer.result()
            let secondResult = try second.result()
            #expect(secondResult.requestID == firstResult.requestID)
            #expect(secondResult.batches.map(\.jobID) == firstResult.batches.map(\.jobID))
            #expect(secondResult.outcome == .succeeded)
            #expect(try await harness.simulatorCalls("BatchUpdateMembers") == 2)

            // After the outcome: replayed at once, marked as such.
            let third = try await harness.post("/accept-images", json: Self.body, headers: [key])
            #expect(third.status == 200)
            #expect(third.header("Idempotent-Replayed") == "true")
            #expect(try third.result().requestID == firstResult.requestID)
            #expect(try await harness.simulatorCalls("BatchUpdateMembers") == 2)
        }
    }

    @Test("after a 504 the gateway goes on waiting; GET shows 202 then the outcome; a repeat gets it without a submit")
    func repeatAfterTimeout() async throws {
        // 5 s jobs and wait=2: on a loaded machine both batches are submitted within the wait, and
        // the jobs still run at the GET after the 504.
        try await withGateway(shared: Self.images, jobDuration: .seconds(5), adjust: Self.configure) { harness in
            let key = ("Idempotency-Key", "after-504")
            let first = try await harness.post("/accept-images", json: Self.body, headers: [key, ("Prefer", "wait=2")])
            #expect(first.status == 504)
            let pending = try first.result()
            #expect(pending.outcome == .timedOut)
            #expect(pending.batches.allSatisfy { $0.state == .pending && $0.jobID != nil })
            #expect((first.json["detail"] as? String)?.contains("GET /accept-images/\(pending.requestID)") == true)

            let running = try await harness.get("/accept-images/\(pending.requestID)", key: testClientKey)
            #expect(running.status == 202)
            #expect(running.header("Retry-After") != nil)
            #expect(try running.result().outcome == .running)
            #expect(try running.result().batches.map(\.jobID) == pending.batches.map(\.jobID))

            let repeated = try await harness.post("/accept-images", json: Self.body, headers: [key, ("Prefer", "wait=30")])
            #expect(repeated.status == 200)
            let final = try repeated.result()
            #expect(final.requestID == pending.requestID)
            #expect(final.outcome == .succeeded)
            #expect(final.batches.map(\.jobID) == pending.batches.map(\.jobID))
            #expect(final.batches.allSatisfy { $0.submitAttempts == 1 && $0.polls >= 2 })
            #expect(try await harness.simulatorCalls("BatchUpdateMembers") == 2)

            let stored = try await harness.get("/accept-images/\(pending.requestID)", key: testClientKey)
            #expect(stored.status == 200)
            #expect(try stored.result().outcome == .succeeded)
            // Reject's stored outcomes are another resource.
            #expect(try await harness.get("/reject-images/\(pending.requestID)", key: testClientKey).status == 404)
        }
    }

    @Test("without a repeat, the background wait still stores the final outcome for GET")
    func backgroundWithoutRepeat() async throws {
        try await withGateway(shared: Self.images, jobDuration: .milliseconds(1500), adjust: Self.configure) { harness in
            let first = try await harness.post("/accept-images", json: Self.body, headers: [("Prefer", "wait=1")])
            #expect(first.status == 504)
            let requestID = try first.result().requestID
            var status = 0
            for _ in 0..<50 where status != 200 {
                try await Task.sleep(for: .milliseconds(200))
                status = try await harness.get("/accept-images/\(requestID)", key: testClientKey).status
            }
            #expect(status == 200)
            #expect(try await harness.simulatorCalls("BatchUpdateMembers") == 2)
        }
    }

    @Test("the same key with another body: 422, nothing submitted for it")
    func keyReusedWithAnotherBody() async throws {
        try await withGateway(shared: Self.images, adjust: Self.configure) { harness in
            let key = ("Idempotency-Key", "\"reused\"")
            #expect(try await harness.post("/accept-images", json: Self.body, headers: [key]).status == 200)
            let other: [String: Any] = ["project_id": testProjectID, "images": [Self.images[0]]]
            let answer = try await harness.post("/accept-images", json: other, headers: [key])
            #expect(answer.status == 422)
            #expect(answer.json["type"] as? String == "urn:ims-gateway:problem:idempotency-key-reused")
            let rejected = try await harness.post("/reject-images", json: Self.body, headers: [key])
            #expect(rejected.status == 422)
            #expect(try await harness.simulatorCalls("BatchUpdateMembers") == 2)
        }
    }

    @Test("the same body in another letter case and with duplicates is the same request")
    func normalisedBodyIsTheSame() async throws {
        try await withGateway(shared: Self.images, adjust: Self.configure) { harness in
            let key = ("Idempotency-Key", "normalised")
            #expect(try await harness.post("/accept-images", json: Self.body, headers: [key]).status == 200)
            let shouting: [String: Any] = [
                "project_id": testProjectID.uppercased(), "images": Self.images.map { $0.uppercased() } + [Self.images[1]],
            ]
            let answer = try await harness.post("/accept-images", json: shouting, headers: [key])
            #expect(answer.status == 200)
            #expect(answer.header("Idempotent-Replayed") == "true")
            #expect(try await harness.simulatorCalls("BatchUpdateMembers") == 2)
        }
    }

    @Test("an invalid Idempotency-Key: 400 naming the header")
    func invalidKey() async throws {
        try await withGateway(shared: Self.images) { harness in
            let answer = try await harness.post(
                "/accept-images", json: Self.body, headers: [("Idempotency-Key", String(repeating: "k", count: 300))])
            #expect(answer.status == 400)
            let fields = (answer.json["errors"] as? [[String: Any]] ?? []).compactMap { $0["field"] as? String }
            #expect(fields == ["Idempotency-Key"])
            #expect(try await harness.simulatorCallsTotal() == 0)
        }
    }

    @Test("stored outcomes belong to their client: another client's GET is a 404")
    func outcomesPerClient() async throws {
        let otherKey = "second-client-key-0123456789"
        let registry = ClientRegistry(entries: [
            ClientEntry(identity: ClientIdentity(name: "tester", projects: .all, rateLimit: .init(rate: 1000, burst: 1000)), keys: [testClientKey]),
            ClientEntry(identity: ClientIdentity(name: "other", projects: .all, rateLimit: .init(rate: 1000, burst: 1000)), keys: [otherKey]),
        ])
        try await withGateway(shared: Self.images, adjust: { $0.clientAuthentication = .clients(registry) }) { harness in
            let answer = try await harness.post("/accept-images", json: Self.body)
            let requestID = try answer.result().requestID
            #expect(try await harness.get("/accept-images/\(requestID)", key: testClientKey).status == 200)
            #expect(try await harness.get("/accept-images/\(requestID)", key: otherKey).status == 404)
            #expect(try await harness.get("/accept-images/no-such-request", key: testClientKey).status == 404)
        }
    }

    @Test("when the background wait gives up, GET answers 504; a repeat polls the same jobs again and submits nothing")
    func backgroundGivesUp() async throws {
        try await withGateway(
            shared: Self.images, jobDuration: .seconds(30),
            adjust: { Self.configure(&$0); $0.maxBackgroundWaitSeconds = 2 }
        ) { harness in
            let key = ("Idempotency-Key", "gives-up")
            let first = try await harness.post("/accept-images", json: Self.body, headers: [key, ("Prefer", "wait=1")])
            #expect(first.status == 504)
            let requestID = try first.result().requestID
            try await Task.sleep(for: .milliseconds(1800))
            var status = 202
            for _ in 0..<20 where status == 202 {
                try await Task.sleep(for: .milliseconds(200))
                status = try await harness.get("/accept-images/\(requestID)", key: testClientKey).status
            }
            #expect(status == 504)
            let again = try await harness.post("/accept-images", json: Self.body, headers: [key, ("Prefer", "wait=1")])
            #expect(again.status == 504)
            let resumed = try again.result()
            #expect(resumed.requestID == requestID)
            #expect(resumed.batches.map(\.jobID) == (try first.result().batches.map(\.jobID)))
            // Two batches, submitted once each; the repeat only polled them.
            #expect(try await harness.simulatorCalls("BatchUpdateMembers") == 2)
            #expect(resumed.batches.allSatisfy { $0.polls > (try? first.result().batches[$0.index].polls) ?? 0 })
        }
    }
}
