import Foundation
import IMSSimulator
import Testing

/// `GET /_sim/jobs/{job_id}` and `GET /_sim/jobs`: what a benchmark needs to compute the time
/// from a job's end to the gateway's answer, and the polls per job.
@Suite("simulator job measures", .serialized)
struct JobMeasuresTests {
    @Test("created_at, ends_at, ended_at (once passed), polls of both APIs, first_final_poll_at")
    func measures() async throws {
        try await withSimulatorClient(SimulatorClient.configuration(jobDuration: SimulatorClient.runningJob)) { client in
            let auth = try await client.auth()
            let before = Int64(Date().timeIntervalSince1970 * 1000)
            let jobID = try await client.submitJob(auth: auth)
            _ = try await client.showJob(jobID, auth: auth)
            let running = try await client.measures(jobID)
            let created = try #require(running["created_at"] as? Int64)
            #expect(created >= before - 1)
            #expect(running["duration_ms"] as? Int64 == SimulatorClient.runningJobMs)
            #expect(running["ends_at"] as? Int64 == created + SimulatorClient.runningJobMs)
            #expect(running["ended_at"] is NSNull)
            #expect(["INIT", "RUNNING"].contains(running["status"] as? String ?? ""))
            #expect(running["first_final_poll_at"] is NSNull)
            #expect(running["polls"] as? Int == 1)
            #expect(running["images"] as? [String] == [SimulatorClient.shared])
            #expect(running["member_status"] as? String == "accepted")

            try await Task.sleep(for: SimulatorClient.runningJob + .milliseconds(100))
            try await client.putFaults(["calls": [["fault": "http_error", "status": 503, "count": 1]]])
            #expect(try await client.showJobProgress(jobID, auth: auth).status == 503)
            #expect(try await client.showJobProgress(jobID, auth: auth).status == 200)
            let answeredAt = Int64(Date().timeIntervalSince1970 * 1000)
            let ended = try await client.measures(jobID)
            #expect(ended["status"] as? String == "SUCCESS")
            #expect(ended["ended_at"] as? Int64 == created + SimulatorClient.runningJobMs)
            #expect(ended["polls"] as? Int == 3, "every poll counts, the 503 too")
            let seen = try #require(ended["first_final_poll_at"] as? Int64)
            #expect(seen >= created + SimulatorClient.runningJobMs && seen <= answeredAt + 1)

            let list = try await client.call("GET", "/_sim/jobs").json["jobs"] as? [[String: Any]]
            #expect(list?.map { $0["job_id"] as? String } == [jobID])
            #expect(try await client.call("GET", "/_sim/jobs/ff80808100000000000000000000dead").status == 404)
        }
    }
}
