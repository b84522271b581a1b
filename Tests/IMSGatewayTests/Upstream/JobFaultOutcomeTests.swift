import Foundation
import IMSClient
import IMSGateway
import IMSSimulator
import Testing

/// The gateway's answer to each job fault of the simulator (issue #5, point 5;
/// docs/ARCHITECTURE.md, "Waiting"): how long jobs take, status words in other cases or
/// unknown, answers without `status` or `entities`, a job stuck RUNNING or ending just after
/// the caller's deadline, 404s right after submit, and whole-machine (CBR) images without
/// `vault_id`.
/// Each test checks the answer and the simulator's counters of the same run.
@Suite("job faults: the gateway's answers", .serialized)
struct JobFaultOutcomeTests {
    static func body(_ images: [String]) -> [String: Any] {
        ["project_id": testProjectID, "images": images]
    }

    /// A job duration distribution, as the fault plan sends it and as the simulator draws it.
    enum DurationCase: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case fixed, uniform, logNormal

        var json: [String: Any] {
            switch self {
            case .fixed: ["distribution": "fixed", "ms": 250]
            case .uniform: ["distribution": "uniform", "min_ms": 100, "max_ms": 600, "seed": 7]
            case .logNormal: ["distribution": "lognormal", "median_ms": 300, "sigma": 0.5, "seed": 42]
            }
        }

        var distribution: JobDurationDistribution {
            switch self {
            case .fixed: .fixed(.milliseconds(250))
            case .uniform: .uniform(min: .milliseconds(100), max: .milliseconds(600), seed: 7)
            case .logNormal: .logNormal(median: .milliseconds(300), sigma: 0.5, seed: 42)
            }
        }

        var testDescription: String { rawValue }
    }

    @Test("job durations from a distribution: the seeded sequence, the same after each PUT, every request 200", arguments: DurationCase.allCases)
    func durationDistributions(_ durations: DurationCase) async throws {
        let images = testImages(5)
        var sampler = JobDurationSampler(durations.distribution)
        // `/_sim/jobs` rounds each duration to whole milliseconds.
        let expected = (0..<images.count).map { _ in Int(Self.milliseconds(sampler.next()).rounded()) }.sorted()
        try await withGateway(shared: images, adjust: { $0.maxImagesPerJob = 1 }) { harness in
            for round in 0..<2 {
                // A PUT starts the sequence afresh: both rounds draw the same durations.
                try await harness.setFaults(["job_duration": durations.json])
                let answer = try await harness.post("/accept-images", json: Self.body(images), headers: [("Prefer", "wait=10")])
                #expect(answer.status == 200)
                let result = try answer.result()
                #expect(result.outcome == .succeeded)
                #expect(result.batches.allSatisfy { $0.state == .succeeded && $0.jobStatus == "SUCCESS" && $0.submitAttempts == 1 })
                let ids = Set(result.batches.compactMap(\.jobID))
                #expect(ids.count == images.count)

                // The batches run at once, so the jobs are created in no fixed order: compare
                // the durations as a sorted list.
                let jobs = try await harness.simulatorJobs().filter { ids.contains($0["job_id"] as? String ?? "") }
                #expect(jobs.count == images.count)
                #expect(jobs.compactMap { $0["duration_ms"] as? Int }.sorted() == expected, "round \(round)")
                for job in jobs {
                    let created = try #require(job["created_at"] as? Int)
                    let duration = try #require(job["duration_ms"] as? Int)
                    #expect(job["ends_at"] as? Int == created + duration)
                    #expect(job["ended_at"] as? Int == created + duration)
                    #expect(job["status"] as? String == "SUCCESS")
                    // The poll that saw it final came after it ended (1 ms for the rounding of both).
                    #expect(try #require(job["first_final_poll_at"] as? Int) >= created + duration - 1)
                    let batch = try #require(result.batches.first { $0.jobID == job["job_id"] as? String })
                    #expect(job["polls"] as? Int == batch.polls)
                }
            }
            #expect(try await harness.simulatorCalls("BatchUpdateMembers") == 2 * images.count)
            #expect(try await harness.simulatorStats()["jobs_created"] as? Int == 2 * images.count)
            #expect(try await harness.simulatorStats()["faults_injected"] as? [String: Int] == [:])
        }
    }

    /// A status word in another letter case, and what it must give.
    enum StatusWordCase: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case lowerSuccess = "success"
        case capitalSuccess = "Success"
        case failed = "FAILED"

        var testDescription: String { rawValue }
    }

    @Test("status words in other cases are final: success and Success give 200, FAILED gives 502 with the word as sent", arguments: StatusWordCase.allCases)
    func statusWordsInOtherCases(_ word: StatusWordCase) async throws {
        let shared = testImages(1)[0]
        let notShared = testImages(1, seed: 9)[0]
        let image = word == .failed ? notShared : shared
        try await withGateway(shared: [shared], jobDuration: .zero) { harness in
            try await harness.setFaults(["jobs": [["fault": "status_word", "status": word.rawValue, "count": 1]]])
            let answer = try await harness.post("/accept-images", json: Self.body([image]), headers: [("Prefer", "wait=10")])
            let result = try answer.result()
            let batch = try #require(result.batches.first)
            #expect(batch.jobStatus == word.rawValue)
            #expect(batch.submitAttempts == 1)
            // A job of no duration is final at the first poll: the word ends the wait at once.
            #expect(batch.polls == 1)
            if word == .failed {
                #expect(answer.status == 502)
                #expect(result.outcome == .failed)
                #expect(batch.state == .failed)
                #expect(batch.errorCode == "IMG.0104")
                #expect(batch.failReason?.contains(notShared) == true)
                #expect(batch.results == [ImageMemberResult(imageID: notShared, projectID: testProjectID, status: "failed")])
            } else {
                #expect(answer.status == 200)
                #expect(result.outcome == .succeeded)
                #expect(batch.state == .succeeded)
                #expect(batch.errorCode == nil)
                #expect(batch.results == [ImageMemberResult(imageID: shared, projectID: testProjectID, status: "success")])
            }
            let job = try await harness.simulatorJob(try #require(batch.jobID))
            #expect(job["polls"] as? Int == 1)
            #expect(job["faults"] as? [String] == ["status_word"])
            #expect(job["first_final_poll_at"] as? Int != nil)
            #expect(try await harness.faultsInjected("status_word") == 1)
            #expect(try await harness.simulatorCalls("ShowJob") == 1)
            #expect(try await harness.simulatorCalls("BatchUpdateMembers") == 1)
        }
    }

    @Test("an unknown status word keeps the wait going to the deadline: 504 timed_out, pending, job_status the word")
    func unknownStatusWord() async throws {
        let images = testImages(1)
        // The background wait ends with the caller's deadline: the counters stop soon after the answer.
        try await withGateway(shared: images, jobDuration: .zero, adjust: { $0.maxBackgroundWaitSeconds = 1 }) { harness in
            try await harness.setFaults(["jobs": [["fault": "status_word", "status": "PAUSED", "count": 1]]])
            let answer = try await harness.post("/accept-images", json: Self.body(images), headers: [("Prefer", "wait=1")])
            #expect(answer.status == 504)
            #expect(answer.header("Retry-After") != nil)
            #expect(answer.json["type"] as? String == "urn:ims-gateway:problem:deadline-passed")
            let result = try answer.result()
            #expect(result.outcome == .timedOut)
            let batch = try #require(result.batches.first)
            #expect(batch.state == .pending)
            #expect(batch.jobStatus == "PAUSED")
            #expect(batch.submitAttempts == 1)
            #expect(batch.polls >= 1)
            // Reported as the last answer carried them, though the gateway does not take the job as ended.
            #expect(batch.results == [ImageMemberResult(imageID: images[0], projectID: testProjectID, status: "success")])

            // Given up, not final: the stored outcome is a 504 too.
            let stored = try await harness.storedOutcome(requestID: result.requestID)
            #expect(stored.status == 504)
            let storedBatch = try #require(try stored.result().batches.first)
            #expect(storedBatch.state == .pending)
            #expect(storedBatch.jobStatus == "PAUSED")

            let job = try await harness.simulatorJob(try #require(batch.jobID))
            #expect(job["status"] as? String == "SUCCESS")
            #expect(job["first_final_poll_at"] is NSNull)
            // At least: see `pollsOnScheduleUntilDeadline` for the exact counts.
            let polls = try #require(job["polls"] as? Int)
            #expect(polls >= storedBatch.polls)
            // Every answer carried the unknown word.
            #expect(try await harness.faultsInjected("status_word") >= storedBatch.polls)
            #expect(try await harness.simulatorCalls("ShowJob") == polls)
        }
    }

    @Test("answers without status for the first 2 polls: not final, the wait goes on, 200 at the third poll")
    func missingStatusForTwoPolls() async throws {
        let images = testImages(1)
        try await withGateway(shared: images, jobDuration: .zero) { harness in
            try await harness.setFaults(["jobs": [["fault": "omit_field", "field": "status", "polls": 2, "count": 1]]])
            let answer = try await harness.post("/accept-images", json: Self.body(images), headers: [("Prefer", "wait=10")])
            #expect(answer.status == 200)
            let batch = try #require(try answer.result().batches.first)
            #expect(batch.state == .succeeded)
            #expect(batch.jobStatus == "SUCCESS")
            #expect(batch.polls == 3)
            #expect(batch.results?.map(\.status) == ["success"])
            #expect(try await harness.simulatorJob(try #require(batch.jobID))["polls"] as? Int == 3)
            #expect(try await harness.faultsInjected("omit_field") == 2)
            #expect(try await harness.simulatorCalls("ShowJob") == 3)
        }
    }

    @Test("answers never carrying status: 504 timed_out, the batch pending with no job_status")
    func missingStatusAlways() async throws {
        let images = testImages(1)
        try await withGateway(shared: images, jobDuration: .zero, adjust: { $0.maxBackgroundWaitSeconds = 1 }) { harness in
            try await harness.setFaults(["jobs": [["fault": "omit_field", "field": "status", "count": 1]]])
            let answer = try await harness.post("/accept-images", json: Self.body(images), headers: [("Prefer", "wait=1")])
            #expect(answer.status == 504)
            let result = try answer.result()
            #expect(result.outcome == .timedOut)
            let batch = try #require(result.batches.first)
            #expect(batch.state == .pending)
            #expect(batch.jobStatus == nil)
            #expect(batch.polls >= 1)
            // At least: see `pollsOnScheduleUntilDeadline` for the exact counts.
            let jobID = try #require(batch.jobID)
            let polls = try #require(try await harness.simulatorJob(jobID)["polls"] as? Int)
            #expect(polls >= batch.polls)
            #expect(try await harness.faultsInjected("omit_field") >= batch.polls)
        }
    }

    @Test("answers without entities: the final state is still read (200 and 502 with IMS's error), results absent")
    func missingEntities() async throws {
        let shared = testImages(1)[0]
        let notShared = testImages(1, seed: 9)[0]
        try await withGateway(shared: [shared], jobDuration: .zero, adjust: { $0.maxImagesPerJob = 1 }) { harness in
            try await harness.setFaults(["jobs": [["fault": "omit_field", "field": "entities"]]])
            let answer = try await harness.post(
                "/accept-images", json: Self.body([shared, notShared]), headers: [("Prefer", "wait=10")])
            #expect(answer.status == 502)
            let result = try answer.result()
            #expect(result.outcome == .partiallyFailed)
            #expect(result.batches.map(\.state) == [.succeeded, .failed])
            #expect(result.batches.map(\.jobStatus) == ["SUCCESS", "FAIL"])
            #expect(result.batches[1].errorCode == "IMG.0104")
            #expect(result.batches[1].failReason?.contains(notShared) == true)
            #expect(result.batches.allSatisfy { $0.results == nil && $0.polls == 1 })
            let batches = answer.json["batches"] as? [[String: Any]] ?? []
            #expect(batches.count == 2)
            #expect(batches.allSatisfy { $0["results"] == nil })
            #expect(try await harness.faultsInjected("omit_field") == 2)
            #expect(try await harness.simulatorCalls("ShowJob") == 2)
        }
    }

    @Test("a job stuck RUNNING: 504 with its job id, the gateway polls on in the background (GET 202), then gives up (GET 504)")
    func stuckJob() async throws {
        let images = testImages(1)
        try await withGateway(shared: images, adjust: { $0.maxBackgroundWaitSeconds = 3 }) { harness in
            try await harness.setFaults(["jobs": [["fault": "stuck", "count": 1]]])
            let started = ContinuousClock.now
            let answer = try await harness.post("/accept-images", json: Self.body(images), headers: [("Prefer", "wait=1")])
            #expect(answer.status == 504)
            #expect(answer.header("Retry-After") != nil)
            let result = try answer.result()
            #expect(result.outcome == .timedOut)
            let batch = try #require(result.batches.first)
            let jobID = try #require(batch.jobID)
            #expect(batch.state == .pending)
            #expect(batch.jobStatus == "RUNNING")
            #expect(batch.polls >= 1)
            #expect(batch.submitAttempts == 1)
            #expect((answer.json["detail"] as? String)?.contains("GET /accept-images/\(result.requestID)") == true)

            let running = try await harness.get("/accept-images/\(result.requestID)", key: testClientKey)
            #expect(running.status == 202)
            #expect(try running.result().outcome == .running)
            #expect(try running.result().batches.first?.jobID == jobID)
            let pollsAtAnswer = try #require(try await harness.simulatorJob(jobID)["polls"] as? Int)
            try await waitUntil("the background wait polls on", timeout: .seconds(2)) {
                try await harness.simulatorJob(jobID)["polls"] as? Int ?? 0 > pollsAtAnswer
            }

            // max_background_wait (3 s from the request) passes: given up, stored as a 504.
            let stored = try await harness.storedOutcome(requestID: result.requestID, timeout: .seconds(6))
            #expect(stored.status == 504)
            #expect(started.duration(to: .now) >= .milliseconds(2800))
            let given = try stored.result()
            #expect(given.outcome == .timedOut)
            #expect(given.batches.first?.state == .pending)
            #expect(given.batches.first?.jobStatus == "RUNNING")
            let job = try await harness.simulatorJob(jobID)
            #expect(job["status"] as? String == "RUNNING")
            #expect(job["duration_ms"] is NSNull)
            // At least: see `stuckJobPollsOnSchedule` for the exact counts.
            #expect(try #require(job["polls"] as? Int) >= given.batches.first?.polls ?? .max)
            #expect(try await harness.faultsInjected("stuck") == 1)
            #expect(try await harness.simulatorCalls("BatchUpdateMembers") == 1)
        }
    }

    @Test("a job ending 1 s after the caller's deadline: 504 first, then the background wait stores the 200")
    func endsAfterDeadline() async throws {
        let images = testImages(1)
        try await withGateway(shared: images, adjust: { $0.maxBackgroundWaitSeconds = 10 }) { harness in
            // The caller waits 1 s; the job, created right after the request arrived, ends 1 s later.
            try await harness.setFaults(["jobs": [["fault": "duration", "duration_ms": 2000, "count": 1]]])
            let answer = try await harness.post("/accept-images", json: Self.body(images), headers: [("Prefer", "wait=1")])
            #expect(answer.status == 504)
            let pending = try answer.result()
            let batch = try #require(pending.batches.first)
            let jobID = try #require(batch.jobID)
            #expect(batch.state == .pending)
            #expect(batch.jobStatus == "RUNNING")
            #expect(batch.polls >= 1)

            let stored = try await harness.storedOutcome(requestID: pending.requestID, timeout: .seconds(5), interval: .milliseconds(50))
            let seenAt = Int((Date().timeIntervalSince1970 * 1000).rounded())
            #expect(stored.status == 200)
            let final = try stored.result()
            #expect(final.requestID == pending.requestID)
            #expect(final.outcome == .succeeded)
            let finalBatch = try #require(final.batches.first)
            #expect(finalBatch.jobID == jobID)
            #expect(finalBatch.state == .succeeded)
            #expect(finalBatch.jobStatus == "SUCCESS")
            #expect(finalBatch.submitAttempts == 1)
            #expect(finalBatch.polls > batch.polls)

            let job = try await harness.simulatorJob(jobID)
            #expect(job["duration_ms"] as? Int == 2000)
            #expect(job["faults"] as? [String] == ["duration"])
            // At least: a poll still out at the caller's deadline reaches IMS but may go
            // uncounted (see `CallFaultOutcomeTests.slowPollsUntilDeadline`).
            #expect(try #require(job["polls"] as? Int) >= finalBatch.polls)
            let endedAt = try #require(job["ended_at"] as? Int)
            let seenFinal = try #require(job["first_final_poll_at"] as? Int)
            // Shortly after: within the schedule's longest pause (400 ms) and slack for a loaded
            // machine's late timers; a loop that stopped or fell back to 10 s would miss both.
            #expect(seenFinal >= endedAt - 1)
            #expect(seenFinal - endedAt <= 1500)
            #expect(seenAt - endedAt <= 3000)
            #expect(try await harness.faultsInjected("duration") == 1)
            #expect(try await harness.simulatorCalls("BatchUpdateMembers") == 1)
        }
    }

    @Test("404 for the first 3 polls of a new job: the wait goes on, 200, the job polled 3 + 1 times")
    func notFoundFirstPolls() async throws {
        let images = testImages(1)
        try await withGateway(shared: images, jobDuration: .zero) { harness in
            try await harness.setFaults(["jobs": [["fault": "not_found", "polls": 3, "count": 1]]])
            let answer = try await harness.post("/accept-images", json: Self.body(images), headers: [("Prefer", "wait=10")])
            #expect(answer.status == 200)
            let batch = try #require(try answer.result().batches.first)
            #expect(batch.state == .succeeded)
            #expect(batch.jobStatus == "SUCCESS")
            #expect(batch.polls == 4)
            #expect(batch.failReason == nil)
            #expect(try await harness.simulatorJob(try #require(batch.jobID))["polls"] as? Int == 4)
            #expect(try await harness.faultsInjected("not_found") == 3)
            #expect(try await harness.simulatorCalls("ShowJob") == 4)
        }
    }

    @Test("a whole-machine (CBR) image: accepted without vault_id its job fails (502, IMG.0197); with one, or rejected, 200")
    func wholeMachineImage() async throws {
        let image = testImages(1, seed: 3)[0]
        let vaultID = "3f6c9a2e-7b1d-4e8a-9c5f-0a1b2c3d4e5f"
        try await withGateway(shared: [image], jobDuration: .zero, wholeMachineImages: [image]) { harness in
            let without = try await harness.post("/accept-images", json: Self.body([image]), headers: [("Prefer", "wait=10")])
            #expect(without.status == 502)
            let failed = try without.result()
            #expect(failed.outcome == .failed)
            let batch = try #require(failed.batches.first)
            #expect(batch.state == .failed)
            #expect(batch.jobStatus == "FAIL")
            #expect(batch.errorCode == "IMG.0197")
            #expect(batch.failReason?.contains("vault_id") == true)
            #expect(batch.results == [ImageMemberResult(imageID: image, projectID: testProjectID, status: "failed")])
            #expect(try await harness.simulatorJob(try #require(batch.jobID))["vault_id"] is NSNull)

            var withVault = Self.body([image])
            withVault["vault_id"] = vaultID
            let accepted = try await harness.post("/accept-images", json: withVault, headers: [("Prefer", "wait=10")])
            #expect(accepted.status == 200)
            let acceptedBatch = try #require(try accepted.result().batches.first)
            #expect(acceptedBatch.state == .succeeded)
            #expect(try await harness.simulatorJob(try #require(acceptedBatch.jobID))["vault_id"] as? String == vaultID)

            let rejected = try await harness.post("/reject-images", json: Self.body([image]), headers: [("Prefer", "wait=10")])
            #expect(rejected.status == 200)
            #expect(try await harness.simulatorCalls("BatchUpdateMembers") == 3)
            let statuses = try await harness.simulatorStats()["member_statuses"] as? [String: [String: String]]
            #expect(statuses?[testProjectID]?[image] == "rejected")
        }
    }

    // When a wait reaches its deadline the shared poll loop must not poll again (before
    // 3dc1a16 `SharedJobPollers.run` called `JobWaiter.wait` again inside the last
    // `finalPollMargin`, whose pause was then trimmed to zero: about 35 back-to-back polls in
    // the harness's 50 ms margin, and the polls cut short at the deadline went uncounted). The
    // two tests below hold the schedule (the harness's: 100 ms, x1.5, cap 400 ms, ±10 %, last
    // poll 50 ms before the deadline) and exact counters.

    @Test(
        "an unknown word for a 1 s wait: polled on the schedule (at most 6 polls), every poll counted"
    )
    func pollsOnScheduleUntilDeadline() async throws {
        let images = testImages(1)
        try await withGateway(shared: images, jobDuration: .zero, adjust: { $0.maxBackgroundWaitSeconds = 1 }) { harness in
            try await harness.setFaults(["jobs": [["fault": "status_word", "status": "PAUSED", "count": 1]]])
            let answer = try await harness.post("/accept-images", json: Self.body(images), headers: [("Prefer", "wait=1")])
            #expect(answer.status == 504)
            let batch = try #require(try answer.result().batches.first)
            #expect(batch.jobStatus == "PAUSED")
            // 100 + 150 + 225 + 337 ms (±10 %), then the last one trimmed to 950 ms: 5 polls
            // (4 when the submit took long), one spare.
            #expect((1...6).contains(batch.polls))
            // A wait that ends a little early (its last poll is 50 ms before the deadline) may
            // go on in the background for what is left: count once that is over too.
            let stored = try await harness.storedOutcome(requestID: try answer.result().requestID)
            #expect(stored.status == 504)
            let polls = try #require(try stored.result().batches.first?.polls)
            #expect((batch.polls...batch.polls + 1).contains(polls))
            #expect(try await harness.simulatorJob(try #require(batch.jobID))["polls"] as? Int == polls)
            #expect(try await harness.faultsInjected("status_word") == polls)
            #expect(try await harness.simulatorCalls("ShowJob") == polls)
        }
    }

    @Test(
        "a stuck job: the caller's wait and the background wait poll on the schedule, every poll counted"
    )
    func stuckJobPollsOnSchedule() async throws {
        let images = testImages(1)
        try await withGateway(shared: images, adjust: { $0.maxBackgroundWaitSeconds = 3 }) { harness in
            try await harness.setFaults(["jobs": [["fault": "stuck", "count": 1]]])
            let answer = try await harness.post("/accept-images", json: Self.body(images), headers: [("Prefer", "wait=1")])
            #expect(answer.status == 504)
            let pending = try answer.result()
            let batch = try #require(pending.batches.first)
            let jobID = try #require(batch.jobID)
            #expect((1...6).contains(batch.polls))
            // The background wait may have sent its next poll by this read.
            let polled = try #require(try await harness.simulatorJob(jobID)["polls"] as? Int)
            #expect((batch.polls...batch.polls + 1).contains(polled), "answered \(batch.polls), IMS polled \(polled)")

            let stored = try await harness.storedOutcome(requestID: pending.requestID, timeout: .seconds(6))
            #expect(stored.status == 504)
            let given = try #require(try stored.result().batches.first)
            // The caller's ≤ 6, then every 400 ms (±10 %) for the 2 s left, the last one trimmed.
            #expect(given.polls <= 13)
            #expect(try await harness.simulatorJob(jobID)["polls"] as? Int == given.polls)
            #expect(try await harness.simulatorCalls("ShowJob") == given.polls)
        }
    }

    static func milliseconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
    }
}
