import Foundation
import IMSSimulator
import Testing

/// The simulator against docs/IMS-API.md: ShowJobProgress's shape, whole-machine (CBR)
/// images and `vault_id`, the API gateway's `request_id`.
@Suite("simulator fidelity", .serialized)
struct FidelityTests {
    @Test("ShowJobProgress: never results, always entities.subJobId (camelCase); ShowJob: results once final, no subJobId")
    func showJobProgressShape() async throws {
        try await withSimulatorClient(SimulatorClient.configuration(jobDuration: SimulatorClient.runningJob)) { client in
            let auth = try await client.auth()
            let jobID = try await client.submitJob(auth: auth)
            let running = try await client.showJobProgress(jobID, auth: auth).json
            #expect(["INIT", "RUNNING"].contains(running["status"] as? String ?? ""))
            #expect(running["entities"] as? [String: String] == ["subJobId": ""])
            #expect((try await client.showJob(jobID, auth: auth).json["entities"] as? [String: Any])?.isEmpty == true)
            try await Task.sleep(for: SimulatorClient.runningJob + .milliseconds(100))
            let done = try await client.showJobProgress(jobID, auth: auth).json
            #expect(done["status"] as? String == "SUCCESS")
            #expect(done["job_type"] as? String == "imsUpdateImageMembersJob")
            for field in ["job_id", "begin_time", "end_time", "error_code", "fail_reason"] {
                #expect(done[field] != nil, "\(field)")
            }
            let entities = try #require(done["entities"] as? [String: Any])
            #expect(Set(entities.keys) == ["subJobId"])
            let showJob = try #require(try await client.showJob(jobID, auth: auth).json["entities"] as? [String: Any])
            #expect(Set(showJob.keys) == ["results"])
        }
    }

    @Test("a whole-machine image accepted without vault_id makes the job FAIL (assumed IMG.0197); with vault_id it succeeds")
    func wholeMachineImageNeedsVault() async throws {
        try await withSimulatorClient(SimulatorClient.configuration(jobDuration: .zero)) { client in
            let auth = try await client.auth()
            let images = [SimulatorClient.shared, SimulatorClient.wholeMachine]
            for vault in [nil, ""] as [String?] {
                let jobID = try await client.submitJob(images, vaultID: vault, auth: auth)
                let job = try await client.showJob(jobID, auth: auth).json
                #expect(job["status"] as? String == "FAIL")
                #expect(job["error_code"] as? String == "IMG.0197")
                let reason = try #require(job["fail_reason"] as? String)
                #expect(reason.contains(SimulatorClient.wholeMachine) && reason.contains("vault_id"))
                let results = (job["entities"] as? [String: Any])?["results"] as? [[String: String]]
                #expect(results?.map { $0["status"] } == ["success", "failed"])
            }
            let withVault = try await client.submitJob(images, vaultID: "3b5f3e2a-vault", auth: auth)
            #expect(try await client.showJob(withVault, auth: auth).json["status"] as? String == "SUCCESS")
            #expect(try await client.measures(withVault)["vault_id"] as? String == "3b5f3e2a-vault")
            let rejected = try await client.submit([SimulatorClient.wholeMachine], status: "rejected", auth: auth)
            let rejectedID = try #require(rejected.json["job_id"] as? String)
            #expect(try await client.showJob(rejectedID, auth: auth).json["status"] as? String == "SUCCESS")
            let notShared = try await client.submitJob([SimulatorClient.notShared, SimulatorClient.wholeMachine], auth: auth)
            #expect(try await client.showJob(notShared, auth: auth).json["error_code"] as? String == "IMG.0104")
        }
    }

    @Test("an API gateway error's request_id is its X-Request-Id header")
    func gatewayRequestID() async throws {
        try await withSimulatorClient { client in
            let refused = try await client.showJob("ff80808100000000000000000000dead", auth: [("X-Auth-Token", "bogus")])
            #expect(refused.status == 401)
            #expect(refused.json["error_code"] as? String == "APIGW.0301")
            let header = try #require(refused.header("X-Request-Id"))
            #expect(refused.json["request_id"] as? String == header)
        }
    }
}
