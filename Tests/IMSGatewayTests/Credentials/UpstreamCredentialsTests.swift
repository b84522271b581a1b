import CurlHTTP
import Foundation
import IMSClient
import IMSGateway
import IMSSimulator
import Testing

/// The gateway's own IAM credentials under expiry, revocation and refusal, end to end.
@Suite("upstream credentials", .serialized)
struct UpstreamCredentialsTests {
    @Test("200 concurrent accepts while tokens live 3 s (margin 1 s) and jobs take 10 s: all 200, few tokens")
    func shortLivedTokens() async throws {
        let images = testImages(200)
        try await withGateway(
            shared: images, jobDuration: .seconds(10), tokenLifetimeSeconds: 3,
            adjust: {
                $0.tokenRefreshMarginSeconds = 1
                $0.pollSchedule = PollSchedule(initialDelay: .seconds(2), growthFactor: 1, maxDelay: .seconds(2), jitter: 0.2)
            }
        ) { harness in
            let started = ContinuousClock.now
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for image in images {
                    group.addTask {
                        try await harness.post(
                            "/accept-images", json: ["project_id": testProjectID, "images": [image]],
                            headers: [("Prefer", "wait=60")]
                        ).status
                    }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            let runSeconds = Double(started.duration(to: .now).components.seconds) + 1
            #expect(statuses.count == 200)
            #expect(statuses.allSatisfy { $0 == 200 })
            let tokens = try await harness.simulatorStats()["tokens_issued"] as? Int ?? .max
            #expect(tokens <= Int((runSeconds / 2).rounded(.up)) + 1)
            #expect(tokens >= 2)
        }
    }

    @Test("tokens revoked mid-wait: one refresh, one replay, the wait completes")
    func revokedMidWait() async throws {
        let images = testImages(1)
        try await withGateway(shared: images, jobDuration: .seconds(5)) { harness in
            async let answer = harness.post(
                "/accept-images", json: ["project_id": testProjectID, "images": images], headers: [("Prefer", "wait=30")])
            // Revoked once the gateway holds its token and submitted with it, the job still running.
            try await waitUntil("the submit") { try await harness.simulatorCalls("BatchUpdateMembers") == 1 }
            let revoke = try await harness.http.execute(
                CurlHTTPRequest(method: "POST", url: harness.simulator.baseURL + "/_sim/revoke-tokens"))
            #expect(revoke.status == 200)
            let result = try await answer
            #expect(result.status == 200)
            let stats = try await harness.simulatorStats()
            #expect(stats["tokens_issued"] as? Int == 2)
            #expect(stats["auth_failures"] as? Int == 1)
        }
    }

    @Test("a wrong password: 502 naming an upstream authentication failure, no password, few IAM calls")
    func wrongPassword() async throws {
        try await withGateway(
            shared: testImages(6),
            adjust: { configuration in
                configuration.maxImagesPerJob = 2
                configuration.credentials = .password(.init(domainName: "test-domain", userName: "test-user", password: "hunter2-wrong"))
            }
        ) { harness in
            let answer = try await harness.post(
                "/accept-images", json: ["project_id": testProjectID, "images": testImages(6)])
            #expect(answer.status == 502)
            let body = String(decoding: answer.body, as: UTF8.self)
            #expect(!body.contains("hunter2"))
            #expect((answer.json["detail"] as? String)?.hasPrefix("upstream authentication failed") == true)
            let result = try answer.result()
            #expect(result.outcome == .failed)
            #expect(result.batches.allSatisfy { $0.state == .submitFailed && $0.errorCode == "upstream.authentication_failed" })
            #expect(result.batches.allSatisfy { $0.failReason?.contains("may have been created") == false })
            #expect(try await harness.simulatorCalls("KeystoneCreateUserTokenByPassword") <= 2)
            #expect(try await harness.simulatorCalls("BatchUpdateMembers") == 0)
            // A second request inside the failure backoff does not call IAM again.
            let again = try await harness.post("/accept-images", json: ["project_id": testProjectID, "images": testImages(1)])
            #expect(again.status == 502)
            #expect(try await harness.simulatorCalls("KeystoneCreateUserTokenByPassword") <= 2)
        }
    }
}
