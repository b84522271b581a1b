import Foundation
import IMSClient
import IMSGateway
import Testing

/// The gateway end to end against the simulator over loopback.
@Suite("POST /accept-images and /reject-images", .serialized)
struct MemberStatusControllerTests {
    @Test("every batch succeeds: 200 with each job's final state and per-image results")
    func allSucceed() async throws {
        let images = testImages(5)
        try await withGateway(shared: images, adjust: { $0.maxImagesPerJob = 2 }) { harness in
            let answer = try await harness.post(
                "/accept-images", json: ["project_id": testProjectID, "images": images], headers: [("Prefer", "wait=30")])
            #expect(answer.status == 200)
            #expect(answer.header("Content-Type") == "application/json")
            #expect(answer.header("Preference-Applied") == "wait=30")
            let result = try answer.result()
            #expect(result.outcome == .succeeded)
            #expect(result.memberStatus == .accepted)
            #expect(result.projectID == testProjectID)
            #expect(answer.header("X-Request-Id") == result.requestID)
            #expect(result.batches.map(\.images) == [Array(images[0..<2]), Array(images[2..<4]), [images[4]]])
            for batch in result.batches {
                #expect(batch.state == .succeeded)
                #expect(batch.jobStatus == "SUCCESS")
                #expect(batch.jobID?.count == 32)
                #expect(batch.submitAttempts == 1)
                #expect(batch.polls >= 1)
                #expect(batch.results?.map(\.imageID) == batch.images)
                #expect(batch.results?.allSatisfy { $0.status == "success" } == true)
                #expect(batch.endTime?.isEmpty == false)
            }
            #expect(result.totals.batches == 3)
            #expect(result.totals.images == 5)
            #expect(result.totals.succeeded == 3)
            #expect(try await harness.simulatorCalls("BatchUpdateMembers") == 3)
            #expect(try await harness.simulatorCalls("KeystoneCreateUserTokenByPassword") == 1)
        }
    }

    @Test("one batch has an image not shared with the project: 502 with the reason and per-image results")
    func oneBatchFails() async throws {
        let shared = testImages(2)
        let notShared = testImages(1, seed: 7)[0]
        try await withGateway(shared: shared, adjust: { $0.maxImagesPerJob = 2 }) { harness in
            let answer = try await harness.post(
                "/accept-images", json: ["project_id": testProjectID, "images": shared + [notShared]])
            #expect(answer.status == 502)
            #expect(answer.header("Content-Type") == "application/problem+json")
            let json = answer.json
            #expect(json["type"] as? String == "urn:ims-gateway:problem:batches-failed")
            #expect(json["status"] as? Int == 502)
            let result = try answer.result()
            #expect(result.outcome == .partiallyFailed)
            #expect(result.batches.map(\.state) == [.succeeded, .failed])
            let failed = result.batches[1]
            #expect(failed.jobStatus == "FAIL")
            #expect(failed.errorCode == "IMG.0104")
            #expect(failed.failReason?.contains(notShared) == true)
            #expect(failed.results == [ImageMemberResult(imageID: notShared, projectID: testProjectID, status: "failed")])
            #expect(result.totals.failed == 1)
            #expect(result.totals.succeeded == 1)
        }
    }

    @Test("every batch fails: 502 with outcome failed")
    func allFail() async throws {
        try await withGateway(shared: []) { harness in
            let answer = try await harness.post(
                "/reject-images", json: ["project_id": testProjectID, "images": testImages(3)])
            #expect(answer.status == 502)
            let result = try answer.result()
            #expect(result.outcome == .failed)
            #expect(result.memberStatus == .rejected)
            #expect(result.batches.map(\.state) == [.failed])
        }
    }

    @Test("a job longer than the caller's wait: 504 with the job id, still pending, Retry-After")
    func jobOutlivesDeadline() async throws {
        let images = testImages(1)
        try await withGateway(shared: images, jobDuration: .seconds(30)) { harness in
            let started = ContinuousClock.now
            let answer = try await harness.post(
                "/accept-images", json: ["project_id": testProjectID, "images": images], headers: [("Prefer", "wait=1")])
            let elapsed = started.duration(to: .now)
            #expect(answer.status == 504)
            #expect(answer.header("Retry-After") != nil)
            #expect(answer.header("Preference-Applied") == "wait=1")
            #expect(elapsed < .seconds(10))
            let result = try answer.result()
            #expect(result.outcome == .timedOut)
            #expect(result.batches[0].state == .pending)
            #expect(result.batches[0].jobID?.count == 32)
            #expect(["INIT", "RUNNING"].contains(result.batches[0].jobStatus ?? ""))
            #expect(answer.json["type"] as? String == "urn:ims-gateway:problem:deadline-passed")
            // The schedule (0.1 s, x1.5, cap 0.4 s, last poll trimmed to 50 ms before the
            // deadline) polls 5 or 6 times in 1 s: never a burst at the deadline. A loaded
            // machine (the whole suite with a browser running) fires late timers and submits
            // late: 1. The upper bound is the point.
            #expect((1...6).contains(result.batches[0].polls), "polls \(result.batches[0].polls)")
            let job = try await harness.simulatorStats()
            #expect(((job["calls"] as? [String: Any])?["ShowJob"] as? Int ?? 0) <= 8)
        }
    }

    @Test("1,001 images with max_images_per_job 100: 11 batches, 200")
    func elevenBatches() async throws {
        let images = testImages(1001)
        try await withGateway(shared: images, adjust: { $0.maxImagesPerJob = 100; $0.maxImagesPerRequest = 2000 }) { harness in
            let answer = try await harness.post(
                "/accept-images", json: ["project_id": testProjectID, "images": images], headers: [("Prefer", "wait=60")])
            #expect(answer.status == 200)
            let result = try answer.result()
            #expect(result.batches.count == 11)
            #expect(result.batches.map(\.images.count) == Array(repeating: 100, count: 10) + [1])
            #expect(result.batches.allSatisfy { $0.state == .succeeded })
            #expect(result.batches.flatMap(\.images) == images)
            #expect(try await harness.simulatorCalls("BatchUpdateMembers") == 11)
        }
    }

    @Test("duplicates are removed and reported; IDs are normalised to lower case")
    func duplicatesRemoved() async throws {
        let images = testImages(2)
        try await withGateway(shared: images) { harness in
            let answer = try await harness.post(
                "/accept-images",
                json: ["project_id": testProjectID.uppercased(), "images": [images[0], " \(images[1].uppercased()) ", images[0]]])
            #expect(answer.status == 200)
            let result = try answer.result()
            #expect(result.projectID == testProjectID)
            #expect(result.batches.flatMap(\.images) == images)
            #expect(result.warnings.count == 1)
            #expect(result.warnings.first?.contains("images[2]") == true)
        }
    }

    @Test("a caller's X-Request-Id is kept; Prefer above the maximum is clamped")
    func requestIDAndPreferClamp() async throws {
        let images = testImages(1)
        try await withGateway(shared: images, adjust: { $0.maxWaitSeconds = 20 }) { harness in
            let answer = try await harness.post(
                "/accept-images", json: ["project_id": testProjectID, "images": images],
                headers: [("X-Request-Id", "portal-42"), ("Prefer", "respond-async, wait=3600")])
            #expect(answer.status == 200)
            #expect(answer.header("X-Request-Id") == "portal-42")
            #expect(answer.header("Preference-Applied") == "wait=20")
            // The caller's id is the correlation id; the request id is the gateway's own UUID.
            let requestID = try answer.result().requestID
            #expect(requestID != "portal-42")
            #expect(UUID(uuidString: requestID) != nil)
            #expect(requestID == requestID.lowercased())
        }
    }

    @Test("more callers than maxCallersWaiting: 503 with Retry-After, the others answered")
    func tooManyCallers() async throws {
        let images = testImages(1)
        try await withGateway(shared: images, jobDuration: .seconds(5), adjust: { $0.maxCallersWaiting = 2 }) { harness in
            async let first = harness.post("/accept-images", json: ["project_id": testProjectID, "images": images])
            async let second = harness.post("/accept-images", json: ["project_id": testProjectID, "images": images])
            // Both waiting, by the gauge rather than by a sleep (a loaded machine admits late).
            try await waitUntil("two callers waiting") { try await harness.callersWaiting(2) }
            let third = try await harness.post("/accept-images", json: ["project_id": testProjectID, "images": images])
            #expect(third.status == 503)
            #expect(third.header("Retry-After") == "1")
            #expect(third.json["type"] as? String == "urn:ims-gateway:problem:too-many-callers")
            #expect(try await first.status == 200)
            #expect(try await second.status == 200)
        }
    }

    @Test("GET /healthz answers 200; an unknown path is a 404 problem, a wrong method a 405 with Allow")
    func health() async throws {
        try await withGateway(shared: []) { harness in
            let answer = try await harness.get("/healthz")
            #expect(answer.status == 200)
            #expect(answer.json["status"] as? String == "ok")
            #expect(answer.header("X-Request-Id")?.isEmpty == false)
            let missing = try await harness.get("/no-such-path")
            #expect(missing.status == 404)
            #expect(missing.header("Content-Type") == "application/problem+json")
            #expect(missing.json["status"] as? Int == 404)
            #expect(missing.header("X-Request-Id") != nil)
            let wrongMethod = try await harness.get("/accept-images")
            #expect(wrongMethod.status == 405)
            #expect(wrongMethod.header("Allow") == "POST")
            #expect(wrongMethod.json["type"] as? String == "urn:ims-gateway:problem:method-not-allowed")
        }
    }
}
