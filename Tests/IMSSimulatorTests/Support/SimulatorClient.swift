import CurlHTTP
import Foundation
import IMSSimulator
import Testing

/// A libcurl client of one running simulator, with the calls the tests make.
struct SimulatorClient: Sendable {
    static let project = "fedcba9876543210fedcba9876543210"
    static let otherProject = "0123456789abcdef0123456789abcdef"
    static let shared = "d164b5df-1bc3-4c1d-8b3b-2fa4a4e3f1a1"
    static let notShared = "0b2a8c1e-5f7a-4a2c-9d0e-7c3b1e2f4a5b"
    /// A whole-machine (CBR) image, shared with ``project`` in ``configuration(jobDuration:)``.
    static let wholeMachine = "8c3d2e1f-0a9b-4c8d-9e7f-6a5b4c3d2e1f"

    /// An answer: status, the body as a JSON object (empty when it is not one), the raw response.
    struct Answer: Sendable {
        let status: Int
        let response: CurlHTTPResponse
        var json: [String: Any] {
            ((try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any]) ?? [:]
        }
        func header(_ name: String) -> String? { response.header(name) }
    }

    let http: CurlHTTPClient
    let baseURL: String

    /// How long a job runs in the tests that look at it while it runs: long enough that a loaded
    /// 2-core CI machine still sees it running after a submit, a poll and a measure (1 s was not).
    static let runningJob: Duration = .seconds(5)
    /// ``runningJob`` in ms, as `GET /_sim/jobs/{job_id}` reports `duration_ms`.
    static let runningJobMs: Int64 = 5000

    /// The configuration the fault tests use: user acct/user/secret, ``shared`` and
    /// ``wholeMachine`` shared with ``project``, ``wholeMachine`` marked whole-machine.
    static func configuration(jobDuration: Duration = .milliseconds(300)) -> SimulatorConfiguration {
        SimulatorConfiguration(
            users: [.init(domainName: "acct", name: "user", password: "secret")],
            sharedImages: [project: [shared, wholeMachine]], jobDuration: jobDuration,
            wholeMachineImages: [wholeMachine])
    }

    func call(_ method: String, _ path: String, json: Any? = nil, headers: [(String, String)] = []) async throws -> Answer {
        var fields = headers.map { (name: $0.0, value: $0.1) }
        var body: [UInt8] = []
        if let json {
            body = Array(try JSONSerialization.data(withJSONObject: json))
            fields.append((name: "Content-Type", value: "application/json"))
        }
        let response = try await http.execute(CurlHTTPRequest(method: method, url: baseURL + path, headers: fields, body: body))
        return Answer(status: response.status, response: response)
    }

    func token(project: String = SimulatorClient.project, password: String = "secret") async throws -> CurlHTTPResponse {
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

    /// `X-Auth-Token` headers with a fresh token for ``project``.
    func auth() async throws -> [(String, String)] {
        [("X-Auth-Token", try #require(try await token().header("X-Subject-Token")))]
    }

    /// Submits a BatchUpdateMembers call for `images`.
    func submit(
        _ images: [String], status: String = "accepted", vaultID: String? = nil, auth: [(String, String)]
    ) async throws -> Answer {
        var body: [String: Any] = ["images": images, "project_id": Self.project, "status": status]
        body["vault_id"] = vaultID
        return try await call("PUT", "/v1/cloudimages/members", json: body, headers: auth)
    }

    /// Submits `images` and returns the job ID.
    func submitJob(_ images: [String] = [SimulatorClient.shared], vaultID: String? = nil, auth: [(String, String)]) async throws
        -> String
    {
        let answer = try await submit(images, vaultID: vaultID, auth: auth)
        #expect(answer.status == 200)
        return try #require(answer.json["job_id"] as? String)
    }

    /// ShowJob of `jobID`.
    func showJob(_ jobID: String, auth: [(String, String)]) async throws -> Answer {
        try await call("GET", "/v1/\(Self.project)/jobs/\(jobID)", headers: auth)
    }

    /// ShowJobProgress of `jobID`.
    func showJobProgress(_ jobID: String, auth: [(String, String)]) async throws -> Answer {
        try await call("GET", "/v1/cloudimages/job/\(jobID)", headers: auth)
    }

    /// `PUT /_sim/faults` with `plan`; expects 200.
    @discardableResult
    func putFaults(_ plan: [String: Any]) async throws -> [String: Any] {
        let answer = try await call("PUT", "/_sim/faults", json: plan)
        #expect(answer.status == 200, "PUT /_sim/faults: \(String(decoding: answer.response.body, as: UTF8.self))")
        return answer.json
    }

    func stats() async throws -> [String: Any] {
        try await call("GET", "/_sim/stats").json
    }

    /// `faults_injected[kind]` from the stats (0 when absent).
    func injected(_ kind: String) async throws -> Int {
        (try await stats()["faults_injected"] as? [String: Any])?[kind] as? Int ?? 0
    }

    /// `GET /_sim/jobs/{jobID}`.
    func measures(_ jobID: String) async throws -> [String: Any] {
        try await call("GET", "/_sim/jobs/\(jobID)").json
    }
}

/// Runs a simulator with `configuration` for the duration of `body`, which gets a client.
func withSimulatorClient(
    _ configuration: SimulatorConfiguration = SimulatorClient.configuration(),
    _ body: (SimulatorClient) async throws -> Void
) async throws {
    try await withRunningSimulator(configuration) { http, baseURL in
        try await body(SimulatorClient(http: http, baseURL: baseURL))
    }
}
