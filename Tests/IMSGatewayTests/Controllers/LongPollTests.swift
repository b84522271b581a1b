import Foundation
import IMSClient
import IMSGateway
import Testing

/// `GET .../{request_id}` with `Prefer: wait=N` on one gateway (docs/ARCHITECTURE.md, "Public
/// API"): long polls are bounded per client.
@Suite("GET with Prefer: wait (long poll)", .serialized)
struct LongPollTests {
    @Test("long polls of one client are bounded by its pending-request bound: the one over it gets 429 too-many-long-polls with Retry-After; the others answer 200")
    func boundedPerClient() async throws {
        let images = testImages(1)
        try await withGateway(shared: images, jobDuration: .seconds(10), adjust: { $0.maxPendingRequestsPerClient = 2 }) {
            harness in
            let started = try await harness.post(
                "/accept-images", json: ["project_id": testProjectID, "images": images], headers: [("Prefer", "wait=1")])
            #expect(started.status == 504)
            let requestID = try #require(started.json["request_id"] as? String)
            let path = "/accept-images/\(requestID)"
            async let first = harness.get(path, key: testClientKey, headers: [("Prefer", "wait=20")])
            async let second = harness.get(path, key: testClientKey, headers: [("Prefer", "wait=20")])
            try await waitUntil("both long polls holding their slots") { try await harness.callersWaiting(2) }
            let third = try await harness.get(path, key: testClientKey, headers: [("Prefer", "wait=20")])
            #expect(third.status == 429)
            #expect(third.json["type"] as? String == "urn:ims-gateway:problem:too-many-long-polls")
            #expect(third.header("Retry-After") != nil)
            // Without Prefer: wait, no slot is needed: answered at once.
            #expect(try await harness.get(path, key: testClientKey).status == 202)
            #expect(try await first.status == 200)
            #expect(try await second.status == 200)
            #expect(try await harness.get(path, key: testClientKey, headers: [("Prefer", "wait=20")]).status == 200)
        }
    }
}
