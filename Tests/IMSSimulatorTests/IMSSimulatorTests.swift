import CurlHTTP
import Foundation
import IMSSimulator
import Logging
import Testing

/// The simulator speaks IAM and IMS as docs/IMS-API.md describes, over real loopback HTTP.
@Suite("IMS simulator", .serialized)
struct IMSSimulatorTests {
    static let project = SimulatorClient.project
    static let otherProject = SimulatorClient.otherProject
    static let shared = SimulatorClient.shared
    static let notShared = SimulatorClient.notShared

    func withSimulator(jobDuration: Duration = .milliseconds(300), _ body: (SimulatorClient) async throws -> Void) async throws {
        try await withSimulatorClient(SimulatorClient.configuration(jobDuration: jobDuration), body)
    }

    @Test("IAM: the token is the X-Subject-Token header; the body has expires_at; a wrong password is 401")
    func iamToken() async throws {
        try await withSimulator { client in
            let response = try await client.token()
            #expect(response.status == 201)
            let token = try #require(response.header("X-Subject-Token"))
            #expect(token.count > 1000)
            let body = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
            let expiresAt = (body?["token"] as? [String: Any])?["expires_at"] as? String
            #expect(expiresAt?.hasSuffix("Z") == true)
            #expect(response.header("X-Request-Id")?.isEmpty == false)

            let refused = try await client.token(password: "wrong")
            #expect(refused.status == 401)
            #expect(refused.header("X-Subject-Token") == nil)
        }
    }

    @Test("IMS behind the API gateway: no token is 401 APIGW.0301 in the gateway's shape")
    func missingToken() async throws {
        try await withSimulator { client in
            let answer = try await client.call(
                "PUT", "/v1/cloudimages/members",
                json: ["images": [Self.shared], "project_id": Self.project, "status": "accepted"])
            #expect(answer.status == 401)
            #expect(answer.json["error_code"] as? String == "APIGW.0301")
            #expect(answer.json["error_msg"] as? String != nil)
            #expect(answer.json["request_id"] as? String != nil)
            let stats = try await client.call("GET", "/_sim/stats").json
            #expect(stats["auth_failures"] as? Int == 1)
        }
    }

    @Test("BatchUpdateMembers: 400 IMG code for a malformed body, 403 for another project's body")
    func refusedBodies() async throws {
        try await withSimulator { client in
            let token = try #require(try await client.token().header("X-Subject-Token"))
            let auth = [("X-Auth-Token", token)]
            let malformed = try await client.call(
                "PUT", "/v1/cloudimages/members", json: ["images": [], "project_id": Self.project, "status": "accepted"],
                headers: auth)
            #expect(malformed.status == 400)
            let error = malformed.json["error"] as? [String: Any]
            #expect((error?["code"] as? String)?.hasPrefix("IMG.") == true)
            let badStatus = try await client.call(
                "PUT", "/v1/cloudimages/members", json: ["images": [Self.shared], "project_id": Self.project, "status": "maybe"],
                headers: auth)
            #expect(badStatus.status == 400)
            let otherProject = try await client.call(
                "PUT", "/v1/cloudimages/members",
                json: ["images": [Self.shared], "project_id": Self.otherProject, "status": "accepted"], headers: auth)
            #expect(otherProject.status == 403)
            let stats = try await client.call("GET", "/_sim/stats").json
            #expect(stats["jobs_created"] as? Int == 0)
        }
    }

    @Test("a job goes INIT/RUNNING, then SUCCESS with per-image results")
    func jobSucceeds() async throws {
        try await withSimulator(jobDuration: SimulatorClient.runningJob) { client in
            let token = try #require(try await client.token().header("X-Subject-Token"))
            let auth = [("X-Auth-Token", token)]
            let submit = try await client.call(
                "PUT", "/v1/cloudimages/members", json: ["images": [Self.shared], "project_id": Self.project, "status": "accepted"],
                headers: auth)
            #expect(submit.status == 200)
            let jobID = try #require(submit.json["job_id"] as? String)
            let early = try await client.call("GET", "/v1/\(Self.project)/jobs/\(jobID)", headers: auth)
            #expect(["INIT", "RUNNING"].contains(early.json["status"] as? String ?? ""))
            #expect(early.json["end_time"] as? String == "")
            try await Task.sleep(for: SimulatorClient.runningJob + .milliseconds(100))
            let done = try await client.call("GET", "/v1/\(Self.project)/jobs/\(jobID)", headers: auth)
            #expect(done.json["status"] as? String == "SUCCESS")
            #expect(done.json["job_type"] as? String == "imsUpdateImageMembersJob")
            let results = (done.json["entities"] as? [String: Any])?["results"] as? [[String: String]]
            #expect(results == [["image_id": Self.shared, "project_id": Self.project, "status": "success"]])
            let progress = try await client.call("GET", "/v1/cloudimages/job/\(jobID)", headers: auth)
            #expect(progress.json["status"] as? String == "SUCCESS")
            #expect((progress.json["entities"] as? [String: Any])?["results"] == nil)
            let wrongProject = try await client.call("GET", "/v1/\(Self.otherProject)/jobs/\(jobID)", headers: auth)
            #expect(wrongProject.status == 403)
            let unknown = try await client.call("GET", "/v1/\(Self.project)/jobs/ff80808100000000000000000000dead", headers: auth)
            #expect(unknown.status == 404)
            let calls = try await client.call("GET", "/_sim/stats").json["calls"] as? [String: Int]
            #expect(calls?["BatchUpdateMembers"] == 1)
            #expect(calls?["ShowJob"] == 4)
            #expect(calls?["ShowJobProgress"] == 1)
            #expect(calls?["KeystoneCreateUserTokenByPassword"] == 1)
        }
    }

    @Test("a job naming an image not shared with the project ends FAIL in the assumed shape")
    func jobFails() async throws {
        try await withSimulator(jobDuration: .zero) { client in
            let token = try #require(try await client.token().header("X-Subject-Token"))
            let auth = [("X-Auth-Token", token)]
            let submit = try await client.call(
                "PUT", "/v1/cloudimages/members",
                json: ["images": [Self.shared, Self.notShared], "project_id": Self.project, "status": "accepted"], headers: auth)
            let jobID = try #require(submit.json["job_id"] as? String)
            let job = try await client.call("GET", "/v1/\(Self.project)/jobs/\(jobID)", headers: auth).json
            #expect(job["status"] as? String == "FAIL")
            #expect(job["error_code"] as? String == "IMG.0104")
            #expect((job["fail_reason"] as? String)?.contains(Self.notShared) == true)
            let results = (job["entities"] as? [String: Any])?["results"] as? [[String: String]]
            #expect(results == [
                ["image_id": Self.shared, "project_id": Self.project, "status": "success"],
                ["image_id": Self.notShared, "project_id": Self.project, "status": "failed"],
            ])
        }
    }
}
