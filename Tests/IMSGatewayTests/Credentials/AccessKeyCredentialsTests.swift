import Foundation
import IMSClient
import IMSGateway
import IMSSimulator
import Testing

/// AK/SK and temporary AK/SK credentials end to end: the simulator verifies every signature.
@Suite("AK/SK credentials", .serialized)
struct AccessKeyCredentialsTests {
    static let accessKey = "HPUAEXAMPLEAK0000001"
    static let secretKey = "exampleSecretKey0123456789abcdefghijABCD"

    /// Writes a temporary-credentials file and returns its path.
    static func writeTemporaryFile(_ key: SimulatorConfiguration.AccessKey, at path: String? = nil) throws -> String {
        let file = path ?? FileManager.default.temporaryDirectory.appendingPathComponent("imsgw-temp-\(UUID().uuidString).json").path
        let formatter = ISO8601DateFormatter()
        let document: [String: Any] = [
            "credential": [
                "access": key.accessKey, "secret": key.secretKey, "securitytoken": key.securityToken ?? "",
                "expires_at": formatter.string(from: key.expiresAt ?? Date().addingTimeInterval(3600)),
            ]
        ]
        try JSONSerialization.data(withJSONObject: document).write(to: URL(fileURLWithPath: file))
        return file
    }

    @Test("AK/SK: every IMS call signed, no IAM call, readiness proven by a 404 ShowJob")
    func signedRequests() async throws {
        let images = testImages(3)
        try await withGateway(
            shared: images, accessKeys: [.init(accessKey: Self.accessKey, secretKey: Self.secretKey)],
            adjust: {
                $0.credentials = .accessKey(accessKey: Self.accessKey, secretKey: Self.secretKey)
                $0.maxImagesPerJob = 2
                $0.probeProjectID = testProjectID
            }
        ) { harness in
            let ready = try await ReadinessTests.readyz(harness, until: 200)
            #expect(ready.status == 200)
            let answer = try await harness.post("/accept-images", json: ["project_id": testProjectID, "images": images])
            #expect(answer.status == 200)
            #expect(try answer.result().batches.allSatisfy { $0.state == .succeeded })
            let stats = try await harness.simulatorStats()
            #expect(stats["tokens_issued"] as? Int == 0)
            #expect(stats["auth_failures"] as? Int == 0)
            #expect(try await harness.simulatorCalls("BatchUpdateMembers") == 2)
        }
    }

    @Test("a wrong secret key: 502 naming the refusal, and the AK is not sent again during the backoff")
    func wrongSecretKey() async throws {
        let images = testImages(3)
        try await withGateway(
            shared: images, accessKeys: [.init(accessKey: Self.accessKey, secretKey: Self.secretKey)],
            adjust: {
                $0.credentials = .accessKey(accessKey: Self.accessKey, secretKey: "not-the-secret-key-0000000000000")
                $0.maxImagesPerJob = 1
                $0.fanOutPerRequest = 1
            }
        ) { harness in
            let answer = try await harness.post("/accept-images", json: ["project_id": testProjectID, "images": images])
            #expect(answer.status == 502)
            #expect((answer.json["detail"] as? String)?.hasPrefix("upstream authentication failed") == true)
            let result = try answer.result()
            #expect(result.batches.allSatisfy { $0.state == .submitFailed && $0.errorCode == "APIGW.0301" })
            #expect(!String(decoding: answer.body, as: UTF8.self).contains("not-the-secret-key"))
            // One signed call was refused; the other batches and the replay were stopped before IMS.
            #expect(try await harness.simulatorStats()["auth_failures"] as? Int == 1)
            let again = try await harness.post("/accept-images", json: ["project_id": testProjectID, "images": [images[0]]])
            #expect(again.status == 502)
            #expect(try await harness.simulatorStats()["auth_failures"] as? Int == 1)
        }
    }

    @Test("temporary AK/SK: X-Security-Token sent; a rewritten file is picked up when the old keys expire")
    func temporaryCredentials() async throws {
        let images = testImages(1)
        let first = SimulatorConfiguration.AccessKey(
            accessKey: "TMPAK0000000000000001", secretKey: "tmp-secret-one-000000000000000000", securityToken: "sec-token-one",
            expiresAt: Date().addingTimeInterval(8))
        let second = SimulatorConfiguration.AccessKey(
            accessKey: "TMPAK0000000000000002", secretKey: "tmp-secret-two-000000000000000000", securityToken: "sec-token-two",
            expiresAt: Date().addingTimeInterval(3600))
        let path = try Self.writeTemporaryFile(first)
        defer { try? FileManager.default.removeItem(atPath: path) }
        try await withGateway(
            shared: images, accessKeys: [first, second],
            adjust: { $0.credentials = .temporaryAccessKeyFile(path: path) }
        ) { harness in
            let answer = try await harness.post("/accept-images", json: ["project_id": testProjectID, "images": images])
            #expect(answer.status == 200)
            // Until the first keys have expired (8 s: room for a loaded machine's start and first accept).
            try await Task.sleep(for: .seconds(max(0, first.expiresAt?.timeIntervalSinceNow ?? 0) + 0.2))
            _ = try Self.writeTemporaryFile(second, at: path)
            let later = try await harness.post("/accept-images", json: ["project_id": testProjectID, "images": images])
            #expect(later.status == 200)
            #expect(try await harness.simulatorStats()["auth_failures"] as? Int == 0)
        }
    }

    @Test("no secret and no token reaches the logs, at trace level, with each credentials mode")
    func noSecretsInLogs() async throws {
        let images = testImages(2)
        let temporary = SimulatorConfiguration.AccessKey(
            accessKey: "TMPAK0000000000000009", secretKey: "tmp-secret-nine-00000000000000000",
            securityToken: "sec-token-nine-xyz", expiresAt: Date().addingTimeInterval(3600))
        let path = try Self.writeTemporaryFile(temporary)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let modes: [UpstreamCredentials?] = [
            nil,  // the harness's password
            .accessKey(accessKey: Self.accessKey, secretKey: Self.secretKey),
            .temporaryAccessKeyFile(path: path),
        ]
        for mode in modes {
            let capture = LogCapture()
            var password = ""
            try await withGateway(
                shared: images, accessKeys: [.init(accessKey: Self.accessKey, secretKey: Self.secretKey), temporary],
                logger: capture.logger(),
                adjust: { configuration in
                    if let mode { configuration.credentials = mode }
                    if case .password(let credentials) = configuration.credentials { password = credentials.password }
                    configuration.probeProjectID = testProjectID
                }
            ) { harness in
                _ = try await ReadinessTests.readyz(harness, until: 200)
                let answer = try await harness.post(
                    "/accept-images", json: ["project_id": testProjectID, "images": images])
                #expect(answer.status == 200)
            }
            let logs = capture.text
            #expect(logs.contains("request"))
            for secret in [password, Self.secretKey, temporary.secretKey, "sec-token-nine-xyz", "MIIsim"] where !secret.isEmpty {
                #expect(!logs.contains(secret), "found a secret in the logs of mode \(mode?.mode ?? "password")")
            }
        }
    }
}
