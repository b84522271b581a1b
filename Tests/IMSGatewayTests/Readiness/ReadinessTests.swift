import Foundation
import IMSClient
import IMSGateway
import Testing

/// `GET /readyz` reflects whether IMS accepted the credentials.
@Suite("readiness", .serialized)
struct ReadinessTests {
    /// Polls `/readyz` until it answers `status` or `limit` passes; returns the last answer.
    static func readyz(_ harness: GatewayHarness, until status: Int, within limit: Duration = .seconds(10)) async throws
        -> GatewayHarness.Answer
    {
        let end = ContinuousClock.now.advanced(by: limit)
        var answer = try await harness.get("/readyz")
        while answer.status != status, ContinuousClock.now < end {
            try await Task.sleep(for: .milliseconds(50))
            answer = try await harness.get("/readyz")
        }
        return answer
    }

    @Test("503 without a probe project")
    func noProbeProject() async throws {
        try await withGateway(shared: []) { harness in
            let answer = try await harness.get("/readyz")
            #expect(answer.status == 503)
            #expect((answer.json["detail"] as? String)?.contains("probe") == true)
        }
    }

    @Test("200 once a probe proved the credentials; the probe made one token request and one ShowJob")
    func provenCredentials() async throws {
        try await withGateway(shared: [], adjust: { $0.probeProjectID = testProjectID }) { harness in
            let answer = try await Self.readyz(harness, until: 200)
            #expect(answer.status == 200)
            #expect(answer.json["status"] as? String == "ready")
            #expect(try await harness.simulatorCalls("KeystoneCreateUserTokenByPassword") == 1)
            #expect(try await harness.simulatorCalls("ShowJob") >= 1)
        }
    }

    @Test("503 with Retry-After while IAM refuses the password, and no loop of IAM calls")
    func refusedCredentials() async throws {
        try await withGateway(shared: [], adjust: { configuration in
            configuration.probeProjectID = testProjectID
            if case .password(var password) = configuration.credentials {
                password.password = "not-the-password-xyzzy"
                configuration.credentials = .password(password)
            }
        }) { harness in
            try await Task.sleep(for: .seconds(1))
            let answer = try await harness.get("/readyz")
            #expect(answer.status == 503)
            #expect(answer.header("Retry-After") == "5")
            #expect(answer.header("Content-Type") == "application/problem+json")
            #expect((answer.json["detail"] as? String)?.contains("xyzzy") == false)
            #expect(try await harness.simulatorCalls("KeystoneCreateUserTokenByPassword") <= 2)
        }
    }
}
