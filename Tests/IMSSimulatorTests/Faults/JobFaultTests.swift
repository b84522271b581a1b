import Foundation
import IMSSimulator
import Testing

/// Each job fault of `PUT /_sim/faults` changes exactly the jobs and answers it says.
@Suite("simulator job faults", .serialized)
struct JobFaultTests {
    @Test("status_word: success, Success and FAILED in place of the final word; the rest of the answer is the real one")
    func otherLetterCases() async throws {
        try await withSimulatorClient(SimulatorClient.configuration(jobDuration: .zero)) { client in
            let auth = try await client.auth()
            try await client.putFaults(["jobs": [["fault": "status_word", "status": "success", "count": 1]]])
            let lower = try await client.submitJob(auth: auth)
            let plain = try await client.submitJob(auth: auth)
            #expect(try await client.showJob(lower, auth: auth).json["status"] as? String == "success")
            #expect(try await client.showJobProgress(lower, auth: auth).json["status"] as? String == "success")
            #expect(try await client.showJob(plain, auth: auth).json["status"] as? String == "SUCCESS")

            try await client.putFaults(["jobs": [["fault": "status_word", "status": "Success"]]])
            let capital = try await client.submitJob(auth: auth)
            #expect(try await client.showJob(capital, auth: auth).json["status"] as? String == "Success")

            try await client.putFaults(["jobs": [["fault": "status_word", "status": "FAILED"]]])
            let failing = try await client.submitJob([SimulatorClient.notShared], auth: auth)
            let failed = try await client.showJob(failing, auth: auth).json
            #expect(failed["status"] as? String == "FAILED")
            #expect(failed["error_code"] as? String == "IMG.0104")
            #expect(try await client.measures(failing)["status"] as? String == "FAIL")
            #expect(try await client.injected("status_word") == 4)
        }
    }

    @Test("status_word PAUSED: an unknown word forever once the job ends; the job is never seen final")
    func unknownWord() async throws {
        try await withSimulatorClient(SimulatorClient.configuration(jobDuration: .zero)) { client in
            let auth = try await client.auth()
            try await client.putFaults(["jobs": [["fault": "status_word", "status": "PAUSED", "count": 1]]])
            let jobID = try await client.submitJob(auth: auth)
            for _ in 0..<3 {
                let job = try await client.showJob(jobID, auth: auth).json
                #expect(job["status"] as? String == "PAUSED")
                #expect((job["end_time"] as? String)?.isEmpty == false)
            }
            let measures = try await client.measures(jobID)
            #expect(measures["status"] as? String == "SUCCESS")
            #expect(measures["first_final_poll_at"] is NSNull)
            #expect(measures["faults"] as? [String] == ["status_word"])
        }
    }

    @Test("status_word with phase running: the word while the job runs, then the real final status")
    func unknownWordWhileRunning() async throws {
        try await withSimulatorClient(SimulatorClient.configuration(jobDuration: SimulatorClient.runningJob)) { client in
            let auth = try await client.auth()
            try await client.putFaults(["jobs": [["fault": "status_word", "status": "PAUSED", "phase": "running"]]])
            let jobID = try await client.submitJob(auth: auth)
            #expect(try await client.showJob(jobID, auth: auth).json["status"] as? String == "PAUSED")
            try await Task.sleep(for: SimulatorClient.runningJob + .milliseconds(100))
            #expect(try await client.showJob(jobID, auth: auth).json["status"] as? String == "SUCCESS")
        }
    }

    @Test("omit_field: answers without status (always) or without entities (the first N polls)")
    func missingFields() async throws {
        try await withSimulatorClient(SimulatorClient.configuration(jobDuration: .zero)) { client in
            let auth = try await client.auth()
            try await client.putFaults(["jobs": [["fault": "omit_field", "field": "status", "count": 1]]])
            let noStatus = try await client.submitJob(auth: auth)
            for _ in 0..<2 {
                let answer = try await client.showJob(noStatus, auth: auth)
                #expect(answer.status == 200)
                #expect(answer.json["status"] == nil)
                #expect(answer.json["job_id"] as? String == noStatus)
                #expect(answer.json["entities"] != nil)
            }
            #expect(try await client.showJobProgress(noStatus, auth: auth).json["status"] == nil)

            try await client.putFaults(["jobs": [["fault": "omit_field", "field": "entities", "polls": 2]]])
            let noEntities = try await client.submitJob(auth: auth)
            for _ in 0..<2 {
                let job = try await client.showJob(noEntities, auth: auth).json
                #expect(job["entities"] == nil)
                #expect(job["status"] as? String == "SUCCESS")
            }
            let third = try await client.showJob(noEntities, auth: auth).json
            #expect((third["entities"] as? [String: Any])?["results"] != nil)
            #expect(try await client.injected("omit_field") == 5)
        }
    }

    @Test("stuck: a job RUNNING forever, with no end in its measures")
    func stuckJob() async throws {
        try await withSimulatorClient(SimulatorClient.configuration(jobDuration: .zero)) { client in
            let auth = try await client.auth()
            try await client.putFaults(["jobs": [["fault": "stuck", "image_id": SimulatorClient.shared]]])
            let stuck = try await client.submitJob(auth: auth)
            let other = try await client.submitJob([SimulatorClient.wholeMachine], vaultID: "vault-1", auth: auth)
            try await Task.sleep(for: .milliseconds(300))
            let job = try await client.showJob(stuck, auth: auth).json
            #expect(job["status"] as? String == "RUNNING")
            #expect(job["end_time"] as? String == "")
            #expect(try await client.showJob(other, auth: auth).json["status"] as? String == "SUCCESS")
            let measures = try await client.measures(stuck)
            #expect(measures["ends_at"] is NSNull)
            #expect(measures["ended_at"] is NSNull)
            #expect(measures["duration_ms"] is NSNull)
            #expect(measures["status"] as? String == "RUNNING")
            #expect(try await client.injected("stuck") == 1)
        }
    }

    @Test("not_found: the first N polls of a new job answer 404 as an unknown job, then it is visible")
    func notVisibleYet() async throws {
        try await withSimulatorClient(SimulatorClient.configuration(jobDuration: .zero)) { client in
            let auth = try await client.auth()
            try await client.putFaults(["jobs": [["fault": "not_found", "polls": 3, "count": 1]]])
            let jobID = try await client.submitJob(auth: auth)
            let later = try await client.submitJob(auth: auth)
            let unknown = try await client.showJob("ff80808100000000000000000000dead", auth: auth)
            for answer in [
                try await client.showJob(jobID, auth: auth), try await client.showJobProgress(jobID, auth: auth),
                try await client.showJob(jobID, auth: auth),
            ] {
                #expect(answer.status == 404)
                #expect(answer.json["error"] as? [String: String] == unknown.json["error"] as? [String: String])
            }
            #expect(try await client.showJob(jobID, auth: auth).status == 200)
            #expect(try await client.showJob(later, auth: auth).status == 200)
            #expect(try await client.measures(jobID)["polls"] as? Int == 4)
            #expect(try await client.injected("not_found") == 3)
        }
    }

    @Test("duration: one job takes its own fixed time, e.g. ending just after a caller's deadline")
    func perJobDuration() async throws {
        try await withSimulatorClient(SimulatorClient.configuration(jobDuration: .zero)) { client in
            let auth = try await client.auth()
            try await client.putFaults(["jobs": [["fault": "duration", "duration_ms": 31_000, "count": 1]]])
            let slow = try await client.submitJob(auth: auth)
            let quick = try await client.submitJob(auth: auth)
            #expect(["INIT", "RUNNING"].contains(try await client.showJob(slow, auth: auth).json["status"] as? String ?? ""))
            #expect(try await client.showJob(quick, auth: auth).json["status"] as? String == "SUCCESS")
            let measures = try await client.measures(slow)
            #expect(measures["duration_ms"] as? Int64 == 31_000)
            let created = try #require(measures["created_at"] as? Int64)
            #expect(measures["ends_at"] as? Int64 == created + 31_000)
            #expect(try await client.injected("duration") == 1)
        }
    }

    @Test("job_duration: a seeded log-normal gives jobs the sampler's sequence in creation order, again after each PUT")
    func seededDurations() async throws {
        try await withSimulatorClient { client in
            let auth = try await client.auth()
            let distribution = JobDurationDistribution.logNormal(median: .seconds(3), sigma: 0.5, seed: 42)
            var sampler = JobDurationSampler(distribution)
            let expected = (0..<5).map { _ in Int64(Self.milliseconds(sampler.next()).rounded()) }
            let plan: [String: Any] = ["job_duration": ["distribution": "lognormal", "median_ms": 3000, "sigma": 0.5, "seed": 42]]
            for round in 0..<2 {
                try await client.putFaults(plan)
                var durations: [Int64] = []
                for _ in 0..<(round == 0 ? 5 : 2) {
                    let jobID = try await client.submitJob(auth: auth)
                    durations.append(try #require(try await client.measures(jobID)["duration_ms"] as? Int64))
                }
                #expect(durations == Array(expected.prefix(durations.count)))
            }
            let shown = try await client.call("GET", "/_sim/faults").json["job_duration"] as? [String: Any]
            #expect(shown?["distribution"] as? String == "lognormal")
            #expect(shown?["seed"] as? Int == 42)
        }
    }

    static func milliseconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
    }
}
