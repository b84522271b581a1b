import CurlHTTP
import Foundation
import IMSClient
import IMSSimulator
import Logging
import Testing

/// The simulated API gateway checks SDK-HMAC-SHA256 signatures over real loopback HTTP, from the
/// request as it arrived (docs/IMS-API.md, "Error bodies" and "AK/SK signing").
@Suite("IMS simulator: AK/SK signatures", .serialized)
struct SignatureVerificationTests {
    static let project = "fedcba9876543210fedcba9876543210"
    static let otherProject = "0123456789abcdef0123456789abcdef"
    static let shared = "d164b5df-1bc3-4c1d-8b3b-2fa4a4e3f1a1"

    static let permanent = SimulatorConfiguration.AccessKey(
        accessKey: "HPUAPERMANENT0000001", secretKey: "permanent-secret-key-0123456789abcdefghij")
    static let temporary = SimulatorConfiguration.AccessKey(
        accessKey: "HPUATEMPORARY0000001", secretKey: "temporary-secret-key-0123456789abcdefghij",
        securityToken: "TEMPORARY-SECURITY-TOKEN", expiresAt: Date().addingTimeInterval(3600))
    static let expired = SimulatorConfiguration.AccessKey(
        accessKey: "HPUAEXPIRED000000001", secretKey: "expired-secret-key-0123456789abcdefghijkl",
        securityToken: "EXPIRED-SECURITY-TOKEN", expiresAt: Date().addingTimeInterval(-60))

    struct Answer {
        var status: Int
        var json: [String: Any]
        var text: String
    }

    struct Client: Sendable {
        let http: CurlHTTPClient
        let baseURL: String

        /// Sends `method path` signed with `key`; `tamper` runs after signing.
        func signed(
            _ method: String, _ path: String, json: Any? = nil, key: SimulatorConfiguration.AccessKey,
            secretKey: String? = nil, projectID: String? = SignatureVerificationTests.project,
            securityToken: String? = nil, date: Date = Date(), tamper: (inout CurlHTTPRequest) -> Void = { _ in }
        ) async throws -> Answer {
            var signed = UpstreamRequest(method: method, url: baseURL + path, headers: [
                (name: "Content-Type", value: json == nil ? "application/json" : "application/json;charset=UTF-8")
            ])
            if let json { signed.body = Array(try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys])) }
            AKSKSigner(accessKey: key.accessKey, secretKey: secretKey ?? key.secretKey)
                .sign(&signed, projectID: projectID, securityToken: securityToken, date: date)
            var request = CurlHTTPRequest(method: signed.method, url: signed.url, headers: signed.headers, body: signed.body)
            tamper(&request)
            let response = try await http.execute(request)
            let object = ((try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any]) ?? [:]
            return Answer(status: response.status, json: object, text: String(decoding: response.body, as: UTF8.self))
        }

        func stats() async throws -> [String: Any] {
            let response = try await http.execute(CurlHTTPRequest(method: "GET", url: baseURL + "/_sim/stats"))
            return ((try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any]) ?? [:]
        }
    }

    static var acceptBody: [String: Any] { ["images": [shared], "project_id": project, "status": "accepted"] }

    func withSimulator(_ body: (Client) async throws -> Void) async throws {
        let configuration = SimulatorConfiguration(
            users: [.init(domainName: "acct", name: "user", password: "secret")],
            sharedImages: [Self.project: [Self.shared]], jobDuration: .milliseconds(200),
            accessKeys: [Self.permanent, Self.temporary, Self.expired])
        try await withRunningSimulator(configuration) { http, baseURL in
            try await body(Client(http: http, baseURL: baseURL))
        }
    }

    static func expectRefused(_ answer: Answer, code: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(answer.status == 401, sourceLocation: sourceLocation)
        #expect(answer.json["error_code"] as? String == code, sourceLocation: sourceLocation)
        #expect(answer.json["request_id"] as? String != nil, sourceLocation: sourceLocation)
        for secret in [permanent.secretKey, temporary.secretKey, expired.secretKey] {
            #expect(!answer.text.contains(secret), sourceLocation: sourceLocation)
        }
    }

    @Test("a signed PUT creates a job; signed ShowJob and ShowJobProgress (with a query) read it")
    func signedCalls() async throws {
        try await withSimulator { client in
            let submit = try await client.signed("PUT", "/v1/cloudimages/members", json: Self.acceptBody, key: Self.permanent)
            #expect(submit.status == 200)
            let jobID = try #require(submit.json["job_id"] as? String)
            try await Task.sleep(for: .milliseconds(300))
            let job = try await client.signed("GET", "/v1/\(Self.project)/jobs/\(jobID)", key: Self.permanent)
            #expect(job.status == 200)
            #expect(job.json["status"] as? String == "SUCCESS")
            let results = (job.json["entities"] as? [String: Any])?["results"] as? [[String: String]]
            #expect(results == [["image_id": Self.shared, "project_id": Self.project, "status": "success"]])
            let progress = try await client.signed(
                "GET", "/v1/cloudimages/job/\(jobID)?marker=a%20b%2Fc&limit=10", key: Self.permanent)
            #expect(progress.status == 200)
            #expect(progress.json["job_id"] as? String == jobID)
            let stats = try await client.stats()
            #expect(stats["auth_failures"] as? Int == 0)
            #expect((stats["calls"] as? [String: Int])?["BatchUpdateMembers"] == 1)
        }
    }

    @Test("the project of a signed call is its X-Project-Id: another project's body is 403, none is 401")
    func projectFromHeader() async throws {
        try await withSimulator { client in
            let other = try await client.signed(
                "PUT", "/v1/cloudimages/members", json: Self.acceptBody, key: Self.permanent, projectID: Self.otherProject)
            #expect(other.status == 403)
            let missing = try await client.signed(
                "PUT", "/v1/cloudimages/members", json: Self.acceptBody, key: Self.permanent, projectID: nil)
            Self.expectRefused(missing, code: "APIGW.0301")
        }
    }

    @Test("a tampered body, signature or date, a stale date, a wrong SK or an unknown AK are 401 APIGW.0301")
    func tampered() async throws {
        try await withSimulator { client in
            let path = "/v1/cloudimages/members"
            let body = try await client.signed("PUT", path, json: Self.acceptBody, key: Self.permanent) { request in
                request.body = Array(String(decoding: request.body, as: UTF8.self)
                    .replacingOccurrences(of: "accepted", with: "rejected").utf8)
            }
            Self.expectRefused(body, code: "APIGW.0301")

            let signature = try await client.signed("PUT", path, json: Self.acceptBody, key: Self.permanent) { request in
                guard let index = request.headers.firstIndex(where: { $0.name == "Authorization" }),
                    var header = AuthorizationHeader.parse(request.headers[index].value)
                else { return }
                header.signature = String(header.signature.reversed())
                request.headers[index].value = header.value
            }
            Self.expectRefused(signature, code: "APIGW.0301")

            let date = try await client.signed("PUT", path, json: Self.acceptBody, key: Self.permanent) { request in
                guard let index = request.headers.firstIndex(where: { $0.name == "X-Sdk-Date" }) else { return }
                request.headers[index].value = AKSKSigner.sdkDate(Date().addingTimeInterval(60))
            }
            Self.expectRefused(date, code: "APIGW.0301")

            let stale = try await client.signed(
                "PUT", path, json: Self.acceptBody, key: Self.permanent, date: Date().addingTimeInterval(-20 * 60))
            Self.expectRefused(stale, code: "APIGW.0301")

            let future = try await client.signed(
                "PUT", path, json: Self.acceptBody, key: Self.permanent, date: Date().addingTimeInterval(20 * 60))
            Self.expectRefused(future, code: "APIGW.0301")

            let malformedDate = try await client.signed("PUT", path, json: Self.acceptBody, key: Self.permanent) { request in
                guard let index = request.headers.firstIndex(where: { $0.name == "X-Sdk-Date" }) else { return }
                request.headers[index].value = "yesterday"
            }
            Self.expectRefused(malformedDate, code: "APIGW.0301")

            let wrongSK = try await client.signed(
                "PUT", path, json: Self.acceptBody, key: Self.permanent, secretKey: Self.temporary.secretKey)
            Self.expectRefused(wrongSK, code: "APIGW.0301")

            let unknownAK = try await client.signed(
                "PUT", path, json: Self.acceptBody,
                key: .init(accessKey: "HPUAUNKNOWN000000001", secretKey: Self.permanent.secretKey))
            Self.expectRefused(unknownAK, code: "APIGW.0301")

            let movedPath = try await client.signed("GET", "/v1/cloudimages/job/abc", key: Self.permanent) { request in
                request.url = request.url.replacingOccurrences(of: "/abc", with: "/abd")
            }
            Self.expectRefused(movedPath, code: "APIGW.0301")

            let stats = try await client.stats()
            #expect(stats["auth_failures"] as? Int == 9)
            #expect(stats["jobs_created"] as? Int == 0)
        }
    }

    @Test("a temporary key needs its X-Security-Token: missing or wrong is 401 APIGW.0301, right is 200")
    func temporaryKey() async throws {
        try await withSimulator { client in
            let path = "/v1/cloudimages/members"
            let missing = try await client.signed("PUT", path, json: Self.acceptBody, key: Self.temporary)
            Self.expectRefused(missing, code: "APIGW.0301")
            let wrong = try await client.signed(
                "PUT", path, json: Self.acceptBody, key: Self.temporary, securityToken: "SOMEONE-ELSES-TOKEN")
            Self.expectRefused(wrong, code: "APIGW.0301")
            let right = try await client.signed(
                "PUT", path, json: Self.acceptBody, key: Self.temporary, securityToken: Self.temporary.securityToken)
            #expect(right.status == 200)
            #expect(!wrong.text.contains("TEMPORARY-SECURITY-TOKEN"))
        }
    }

    @Test("an expired temporary key is 401 APIGW.0307")
    func expiredKey() async throws {
        try await withSimulator { client in
            let answer = try await client.signed(
                "PUT", "/v1/cloudimages/members", json: Self.acceptBody, key: Self.expired,
                securityToken: Self.expired.securityToken)
            Self.expectRefused(answer, code: "APIGW.0307")
        }
    }

    @Test("a valid signature on an unknown job id is 404, also when the id needs escaping")
    func unknownJob() async throws {
        try await withSimulator { client in
            let unknown = try await client.signed(
                "GET", "/v1/\(Self.project)/jobs/ff80808100000000000000000000dead", key: Self.permanent)
            #expect(unknown.status == 404)
            #expect((unknown.json["error"] as? [String: Any])?["code"] as? String == "IMG.0404")
            let escaped = try await client.signed("GET", "/v1/cloudimages/job/a%20b%2Bc~", key: Self.permanent)
            #expect(escaped.status == 404)
            let stats = try await client.stats()
            #expect(stats["auth_failures"] as? Int == 0)
        }
    }

    @Test("AccessKey's description shows neither the SK nor the security token")
    func accessKeyDescription() {
        let text = "\(Self.temporary)"
        #expect(text.contains(Self.temporary.accessKey))
        #expect(!text.contains(Self.temporary.secretKey))
        #expect(!text.contains("TEMPORARY-SECURITY-TOKEN"))
    }
}
