import CurlHTTP
import Foundation
import IMSSimulator
import Logging
import Testing

/// The simulator speaks IAM and IMS as IMS-REFERENCE.md describes, over real loopback HTTP.
@Suite("IMS simulator", .serialized)
struct IMSSimulatorTests {
    static let project = "fedcba9876543210fedcba9876543210"
    static let otherProject = "0123456789abcdef0123456789abcdef"
    static let shared = "d164b5df-1bc3-4c1d-8b3b-2fa4a4e3f1a1"
    static let notShared = "0b2a8c1e-5f7a-4a2c-9d0e-7c3b1e2f4a5b"

    struct Client: Sendable {
        let http: CurlHTTPClient
        let baseURL: String

        func call(_ method: String, _ path: String, json: Any? = nil, headers: [(String, String)] = []) async throws
            -> (status: Int, json: [String: Any], response: CurlHTTPResponse)
        {
            var fields = headers.map { (name: $0.0, value: $0.1) }
            var body: [UInt8] = []
            if let json {
                body = Array(try JSONSerialization.data(withJSONObject: json))
                fields.append((name: "Content-Type", value: "application/json"))
            }
            let response = try await http.execute(CurlHTTPRequest(method: method, url: baseURL + path, headers: fields, body: body))
            let object = ((try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any]) ?? [:]
            return (response.status, object, response)
        }

        func token(project: String = IMSSimulatorTests.project, password: String = "secret") async throws -> CurlHTTPResponse {
            try await call("POST", "/v3/auth/tokens", json: [
                "auth": [
                    "identity": [
                        "methods": ["password"],
                        "password": ["user": ["domain": ["name": "acct"], "name": "user", "password": password]],
                    ],
                    "scope": ["project": ["id": project]],
                ]
            ]).response
        }
    }

    func withSimulator(jobDuration: Duration = .milliseconds(300), _ body: (Client) async throws -> Void) async throws {
        let configuration = SimulatorConfiguration(
            users: [.init(domainName: "acct", name: "user", password: "secret")],
            sharedImages: [Self.project: [Self.shared]], jobDuration: jobDuration)
        try await withRunningSimulator(configuration) { http, baseURL in
            try await body(Client(http: http, baseURL: baseURL))
        }
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
        try await withSimulator(jobDuration: .milliseconds(400)) { client in
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
            try await Task.sleep(for: .milliseconds(500))
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
