import Foundation
import IMSClient
import IMSGateway
import Testing

/// `Prefer: respond-async` on `POST /accept-images` (docs/ARCHITECTURE.md, "Public API"): 202
/// once the request is stored, with `Location`, `Retry-After` and `Preference-Applied`; with
/// `wait=N` the final outcome when it comes within N s, else the 202.
@Suite("Prefer: respond-async", .serialized)
struct RespondAsyncTests {
    @Test("respond-async alone: 202 at once with Location, Retry-After and Preference-Applied, outcome running; the job is submitted and its outcome read at Location")
    func answeredAtOnce() async throws {
        let images = testImages(3)
        try await withGateway(shared: images, jobDuration: .seconds(6), adjust: { $0.maxImagesPerJob = 2 }) { harness in
            let started = ContinuousClock.now
            let answer = try await harness.post(
                "/accept-images", json: ["project_id": testProjectID, "images": images],
                headers: [("Prefer", "respond-async"), ("Idempotency-Key", "async-1")])
            #expect(ContinuousClock.now - started < .seconds(2), "it waited for the job")
            #expect(answer.status == 202)
            let requestID = try #require(answer.json["request_id"] as? String)
            #expect(answer.header("Location") == "/accept-images/\(requestID)")
            #expect(answer.header("Preference-Applied") == "respond-async")
            #expect(answer.header("Retry-After") != nil)
            #expect(answer.json["outcome"] as? String == "running")
            let states = (answer.json["batches"] as? [[String: Any]] ?? []).compactMap { $0["state"] as? String }
            #expect(states.count == 2)
            #expect(states.allSatisfy { $0 == "queued" || $0 == "pending" }, "\(states)")

            // A repeat with the key while it runs: its current state, 202 again; nothing submitted twice.
            let repeated = try await harness.post(
                "/accept-images", json: ["project_id": testProjectID, "images": images],
                headers: [("Prefer", "respond-async"), ("Idempotency-Key", "async-1")])
            #expect(repeated.status == 202)
            #expect(repeated.json["request_id"] as? String == requestID)

            let final = try await harness.get(
                try #require(answer.header("Location")), key: testClientKey, headers: [("Prefer", "wait=20")])
            #expect(final.status == 200)
            #expect(final.json["outcome"] as? String == "succeeded")
            #expect(try await harness.simulatorCalls("BatchUpdateMembers") == 2)

            // Once final, the repeat gets the final answer, replayed.
            let replayed = try await harness.post(
                "/accept-images", json: ["project_id": testProjectID, "images": images],
                headers: [("Prefer", "respond-async"), ("Idempotency-Key", "async-1")])
            #expect(replayed.status == 200)
            #expect(replayed.header("Idempotent-Replayed") == "true")
            #expect(try await harness.simulatorCalls("BatchUpdateMembers") == 2)
        }
    }

    @Test("respond-async, wait=N: the final outcome when it comes within N s (Preference-Applied: wait=N), else 202 with Preference-Applied: respond-async, wait=N")
    func withWait() async throws {
        let images = testImages(1)
        try await withGateway(shared: images, jobDuration: .milliseconds(300)) { harness in
            let answer = try await harness.post(
                "/accept-images", json: ["project_id": testProjectID, "images": images],
                headers: [("Prefer", "respond-async, wait=10")])
            #expect(answer.status == 200)
            #expect(answer.header("Preference-Applied") == "wait=10")
            #expect(answer.header("Location") == nil)
        }
        try await withGateway(shared: images, jobDuration: .seconds(10)) { harness in
            let answer = try await harness.post(
                "/accept-images", json: ["project_id": testProjectID, "images": images],
                headers: [("Prefer", "respond-async, wait=3")])
            #expect(answer.status == 202)
            #expect(answer.header("Preference-Applied") == "respond-async, wait=3")
            #expect(answer.json["outcome"] as? String == "running")
            let jobIDs = (answer.json["batches"] as? [[String: Any]] ?? []).compactMap { $0["job_id"] as? String }
            #expect(jobIDs.count == 1, "submitted within the wait")
        }
    }
}
