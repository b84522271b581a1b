import Foundation
import IMSClient
import IMSGateway
import Testing

/// The gateway's answer to each call fault of the simulator (issue #5, point 5;
/// docs/ARCHITECTURE.md, "Submitting" and "Waiting"): 5xx bursts, abrupt connection closes,
/// slow answers and malformed JSON, on the submit (BatchUpdateMembers) and on the polls
/// (ShowJob). A submit
/// that got no answer or a 5xx is repeated up to `maxSubmitAttempts` (default 4); no poll
/// error ends a wait. Each test checks the answer and the simulator's counters of the same run.
/// (429 / `Retry-After` and the quota are left to the tests of the upstream limiter.)
@Suite("call faults: the gateway's answers", .serialized)
struct CallFaultOutcomeTests {
    static func body(_ images: [String]) -> [String: Any] {
        ["project_id": testProjectID, "images": images]
    }

    static let wait = ("Prefer", "wait=10")

    @Test("a burst of 3 × 503 on the submit: repeated, the 4th attempt (of 4) goes through, 200")
    func submitBurstWithinAttempts() async throws {
        let images = testImages(1)
        try await withGateway(shared: images, jobDuration: .zero) { harness in
            try await harness.setFaults(["calls": [["fault": "http_error", "operation": "BatchUpdateMembers", "status": 503, "count": 3]]])
            let answer = try await harness.post("/accept-images", json: Self.body(images), headers: [Self.wait])
            #expect(answer.status == 200)
            let result = try answer.result()
            #expect(result.outcome == .succeeded)
            let batch = try #require(result.batches.first)
            #expect(batch.state == .succeeded)
            #expect(batch.jobStatus == "SUCCESS")
            #expect(batch.submitAttempts == 4)
            #expect(batch.polls == 1)
            #expect(batch.errorCode == nil)
            #expect(result.totals.upstreamCalls == 5)
            #expect(try await harness.simulatorCalls("BatchUpdateMembers") == 4)
            #expect(try await harness.faultsInjected("http_error") == 3)
            #expect(try await harness.simulatorStats()["jobs_created"] as? Int == 1)
        }
    }

    @Test("a burst of 500s longer than the attempts: submit_failed with IMS's error_code, 502, nothing polled")
    func submitBurstBeyondAttempts() async throws {
        let images = testImages(1)
        try await withGateway(shared: images, jobDuration: .zero) { harness in
            try await harness.setFaults(["calls": [["fault": "http_error", "operation": "BatchUpdateMembers", "status": 500, "count": 5]]])
            let answer = try await harness.post("/accept-images", json: Self.body(images), headers: [Self.wait])
            #expect(answer.status == 502)
            #expect(answer.json["type"] as? String == "urn:ims-gateway:problem:batches-failed")
            let result = try answer.result()
            #expect(result.outcome == .failed)
            let batch = try #require(result.batches.first)
            #expect(batch.state == .submitFailed)
            #expect(batch.errorCode == "IMG.0500")
            #expect(batch.jobID == nil)
            #expect(batch.jobStatus == nil)
            #expect(batch.submitAttempts == 4)
            #expect(batch.polls == 0)
            // A 5xx may hide a job created anyway: the answer says so.
            #expect(batch.failReason?.contains("may have been created") == true)
            #expect(result.totals.submitFailed == 1)
            #expect(try await harness.simulatorCalls("BatchUpdateMembers") == 4)
            #expect(try await harness.simulatorCalls("ShowJob") == 0)
            #expect(try await harness.faultsInjected("http_error") == 4)
            #expect(try await harness.simulatorStats()["jobs_created"] as? Int == 0)
            let plan = try await harness.simulatorFaults()
            #expect((plan["calls"] as? [[String: Any]])?.first?["remaining"] as? Int == 1)
        }
    }

    @Test("3 × 503 on the polls: the wait goes on, 200 at the 4th poll")
    func pollErrors() async throws {
        let images = testImages(1)
        try await withGateway(shared: images, jobDuration: .zero) { harness in
            try await harness.setFaults(["calls": [["fault": "http_error", "operation": "ShowJob", "status": 503, "count": 3]]])
            let answer = try await harness.post("/accept-images", json: Self.body(images), headers: [Self.wait])
            #expect(answer.status == 200)
            let batch = try #require(try answer.result().batches.first)
            #expect(batch.state == .succeeded)
            #expect(batch.jobStatus == "SUCCESS")
            #expect(batch.submitAttempts == 1)
            #expect(batch.polls == 4)
            #expect(batch.errorCode == nil)
            #expect(batch.failReason == nil)
            #expect(try await harness.simulatorJob(try #require(batch.jobID))["polls"] as? Int == 4)
            #expect(try await harness.simulatorCalls("ShowJob") == 4)
            #expect(try await harness.faultsInjected("http_error") == 3)
        }
    }

    @Test("the connection closed on the submit (FIN or RST): repeated, 200", arguments: [false, true])
    func submitConnectionClosed(reset: Bool) async throws {
        let images = testImages(1)
        try await withGateway(shared: images, jobDuration: .zero) { harness in
            // The submit goes out on the connection the IAM token call opened. libcurl sends a
            // request again by itself, once, on a new connection when a reused one closes before
            // any byte of the answer: the first close never reaches the gateway. The second,
            // on that fresh connection, does, and the gateway's own retry goes through. So IMS
            // sees 3 submits for the gateway's 2 attempts.
            try await harness.setFaults(["calls": [["fault": "close", "operation": "BatchUpdateMembers", "reset": reset, "count": 2]]])
            let answer = try await harness.post("/accept-images", json: Self.body(images), headers: [Self.wait])
            #expect(answer.status == 200)
            let batch = try #require(try answer.result().batches.first)
            #expect(batch.state == .succeeded)
            #expect(batch.submitAttempts == 2)
            #expect(batch.polls == 1)
            #expect(try await harness.simulatorCalls("BatchUpdateMembers") == 3)
            #expect(try await harness.faultsInjected("close") == 2)
            #expect(try await harness.simulatorStats()["jobs_created"] as? Int == 1)
        }
    }

    @Test("the connection closed on polls: the wait goes on, 200")
    func pollConnectionClosed() async throws {
        let images = testImages(1)
        try await withGateway(shared: images, jobDuration: .zero) { harness in
            // As on the submit: the first poll's reused connection closes, libcurl repeats it on
            // a new one, which closes too; that poll fails, the next one reads the job.
            try await harness.setFaults(["calls": [["fault": "close", "operation": "ShowJob", "count": 2]]])
            let answer = try await harness.post("/accept-images", json: Self.body(images), headers: [Self.wait])
            #expect(answer.status == 200)
            let batch = try #require(try answer.result().batches.first)
            #expect(batch.state == .succeeded)
            #expect(batch.jobStatus == "SUCCESS")
            #expect(batch.polls == 2)
            #expect(try await harness.simulatorJob(try #require(batch.jobID))["polls"] as? Int == 3)
            #expect(try await harness.simulatorCalls("ShowJob") == 3)
            #expect(try await harness.faultsInjected("close") == 2)
        }
    }

    @Test("slow answers within the upstream timeout: just slower, 200, nothing repeated")
    func slowAnswers() async throws {
        let images = testImages(1)
        try await withGateway(shared: images, jobDuration: .zero) { harness in
            try await harness.setFaults([
                "calls": [
                    ["fault": "delay", "operation": "BatchUpdateMembers", "delay_ms": 300, "count": 1],
                    ["fault": "delay", "operation": "ShowJob", "delay_ms": 300, "count": 1],
                ]
            ])
            let started = ContinuousClock.now
            let answer = try await harness.post("/accept-images", json: Self.body(images), headers: [Self.wait])
            let elapsed = started.duration(to: .now)
            #expect(answer.status == 200)
            let batch = try #require(try answer.result().batches.first)
            #expect(batch.state == .succeeded)
            #expect(batch.submitAttempts == 1)
            #expect(batch.polls == 1)
            // Both delays, plus the first poll's own pause (100 ms ± 10 %).
            #expect(elapsed >= .milliseconds(690))
            #expect(try await harness.simulatorCalls("BatchUpdateMembers") == 1)
            #expect(try await harness.simulatorCalls("ShowJob") == 1)
            #expect(try await harness.faultsInjected("delay") == 2)
        }
    }

    // A caller leaving at its deadline gets the shared loop's state after its last answered
    // poll, even with a poll still out; a poll the IMS client never sent is not counted.
    @Test("slow polls up to the caller's deadline: the 504 still carries the last state read and the polls made")
    func slowPollsUntilDeadline() async throws {
        let images = testImages(1)
        try await withGateway(shared: images, jobDuration: .seconds(30), adjust: { $0.maxBackgroundWaitSeconds = 2 }) { harness in
            // Every poll answered after 200 ms: the last one (sent 50 ms before the deadline)
            // is still out when the deadline comes, the ones before it were answered RUNNING.
            try await harness.setFaults(["calls": [["fault": "delay", "operation": "ShowJob", "delay_ms": 200]]])
            // 2 s rather than 1: a loaded machine's token, submit and late timers leave 1 s too
            // little for two polls of 200 ms each.
            let answer = try await harness.post("/accept-images", json: Self.body(images), headers: [("Prefer", "wait=2")])
            #expect(answer.status == 504)
            let batch = try #require(try answer.result().batches.first)
            #expect(batch.state == .pending)
            #expect(batch.jobStatus == "RUNNING")
            #expect(batch.polls >= 2)
            let jobID = try #require(batch.jobID)
            let polls = try #require(try await harness.simulatorJob(jobID)["polls"] as? Int)
            #expect(polls >= batch.polls)
            #expect(try await harness.faultsInjected("delay") == polls)
        }
    }

    @Test("a submit slower than upstream.timeoutMs (1 s, so that a loaded machine's other calls fit in it): timed out, repeated, 200")
    func submitBeyondTimeout() async throws {
        let images = testImages(1)
        try await withGateway(shared: images, jobDuration: .zero, adjust: { $0.upstreamTimeoutMilliseconds = 1000 }) { harness in
            try await harness.setFaults(["calls": [["fault": "delay", "operation": "BatchUpdateMembers", "delay_ms": 3000, "count": 1]]])
            let answer = try await harness.post("/accept-images", json: Self.body(images), headers: [Self.wait])
            #expect(answer.status == 200)
            let result = try answer.result()
            let batch = try #require(result.batches.first)
            #expect(batch.state == .succeeded)
            #expect(batch.submitAttempts == 2)
            #expect(batch.polls == 1)
            #expect(try await harness.simulatorCalls("BatchUpdateMembers") == 2)
            #expect(try await harness.faultsInjected("delay") == 1)
            // The slow submit was still handled once its delay passed, after the gateway had
            // given up on it: an extra job upstream that nobody waits for, as
            // docs/ARCHITECTURE.md, "Submitting" allows ("may leave an extra job upstream").
            try await waitUntil("the slow submit's job") { try await harness.simulatorJobs().count == 2 }
            let jobs = try await harness.simulatorJobs()
            #expect(jobs.count == 2)
            #expect(jobs.filter { $0["job_id"] as? String == batch.jobID }.count == 1)
        }
    }

    @Test("a poll slower than upstream.timeoutMs (1 s, so that a loaded machine's other calls fit in it): that poll fails, the wait goes on, 200")
    func pollBeyondTimeout() async throws {
        let images = testImages(1)
        try await withGateway(shared: images, jobDuration: .zero, adjust: { $0.upstreamTimeoutMilliseconds = 1000 }) { harness in
            try await harness.setFaults(["calls": [["fault": "delay", "operation": "ShowJob", "delay_ms": 3000, "count": 1]]])
            let answer = try await harness.post("/accept-images", json: Self.body(images), headers: [Self.wait])
            #expect(answer.status == 200)
            let batch = try #require(try answer.result().batches.first)
            #expect(batch.state == .succeeded)
            #expect(batch.polls == 2)
            #expect(try await harness.simulatorCalls("ShowJob") == 2)
            #expect(try await harness.faultsInjected("delay") == 1)
        }
    }

    @Test("malformed JSON on 2 polls: the wait goes on, 200 at the third poll")
    func malformedPolls() async throws {
        let images = testImages(1)
        try await withGateway(shared: images, jobDuration: .zero) { harness in
            try await harness.setFaults(["calls": [["fault": "malformed_json", "operation": "ShowJob", "count": 2]]])
            let answer = try await harness.post("/accept-images", json: Self.body(images), headers: [Self.wait])
            #expect(answer.status == 200)
            let batch = try #require(try answer.result().batches.first)
            #expect(batch.state == .succeeded)
            #expect(batch.jobStatus == "SUCCESS")
            #expect(batch.polls == 3)
            #expect(batch.results?.map(\.status) == ["success"])
            let job = try await harness.simulatorJob(try #require(batch.jobID))
            #expect(job["polls"] as? Int == 3)
            #expect(job["first_final_poll_at"] as? Int != nil)
            #expect(try await harness.faultsInjected("malformed_json") == 2)
        }
    }

    @Test("malformed JSON on the submit: not repeated, submit_failed upstream.malformed_response, 502; the job exists upstream")
    func malformedSubmit() async throws {
        let images = testImages(1)
        try await withGateway(shared: images, jobDuration: .zero) { harness in
            // A 2xx whose job_id cannot be read is final for `SubmitRetryPolicy`: IMS most likely
            // created the job, and a repeat would make a second one. The answer says so.
            try await harness.setFaults(["calls": [["fault": "malformed_json", "operation": "BatchUpdateMembers", "count": 1]]])
            let answer = try await harness.post("/accept-images", json: Self.body(images), headers: [Self.wait])
            #expect(answer.status == 502)
            let result = try answer.result()
            #expect(result.outcome == .failed)
            let batch = try #require(result.batches.first)
            #expect(batch.state == .submitFailed)
            #expect(batch.errorCode == "upstream.malformed_response")
            #expect(batch.jobID == nil)
            #expect(batch.submitAttempts == 1)
            #expect(batch.polls == 0)
            #expect(batch.failReason?.contains("may have been created") == true)
            #expect(try await harness.simulatorCalls("BatchUpdateMembers") == 1)
            #expect(try await harness.faultsInjected("malformed_json") == 1)
            // IMS did create the job whose id the gateway could not read.
            #expect(try await harness.simulatorStats()["jobs_created"] as? Int == 1)
        }
    }
}
