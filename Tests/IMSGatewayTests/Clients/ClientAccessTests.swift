import Foundation
import IMSGateway
import Testing

/// Who may call: `Authorization: Bearer <key>` against the clients file, per-project
/// authorization, and the per-client rate limit, end to end over loopback.
@Suite("client access", .serialized)
struct ClientAccessTests {
    static let image = "d164b5df-1bc3-4c3f-893e-3e471fd16e64"
    static var body: [String: Any] { ["project_id": testProjectID, "images": [image]] }
    static let otherProject = "fedcba9876543210fedcba9876543210"

    /// A clients file in a new temporary folder.
    static func clientsFile(_ text: String) throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("clients-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let file = folder.appendingPathComponent("clients.yaml")
        try text.write(to: file, atomically: true, encoding: .utf8)
        return file
    }

    @Test("no client key: 401 with WWW-Authenticate: Bearer, nothing sent upstream")
    func missingKey() async throws {
        try await withGateway(shared: [Self.image]) { harness in
            let answer = try await harness.post("/accept-images", json: Self.body, key: nil)
            #expect(answer.status == 401)
            #expect(answer.header("WWW-Authenticate") == #"Bearer realm="ims-gateway""#)
            #expect(answer.header("Content-Type") == "application/problem+json")
            #expect(answer.json["type"] as? String == "urn:ims-gateway:problem:unauthorized")
            let basic = try await harness.post(
                "/accept-images", json: Self.body, headers: [("Authorization", "Basic dXNlcjpwdw==")], key: nil)
            #expect(basic.status == 401)
            #expect(try await harness.get("/accept-images/some-request").status == 401)
            #expect(try await harness.simulatorCallsTotal() == 0)
        }
    }

    @Test("a wrong key: 401 with error=invalid_token; the key is not echoed")
    func wrongKey() async throws {
        try await withGateway(shared: [Self.image]) { harness in
            let answer = try await harness.post("/accept-images", json: Self.body, key: "not-the-key-0123456789")
            #expect(answer.status == 401)
            #expect(answer.header("WWW-Authenticate") == #"Bearer realm="ims-gateway", error="invalid_token""#)
            #expect(!String(decoding: answer.body, as: UTF8.self).contains("not-the-key"))
            #expect(try await harness.simulatorCallsTotal() == 0)
        }
    }

    @Test("a rotated key: both keys work during the rotation, the old one stops after the reload")
    func rotatedKey() async throws {
        let old = "old-key-0123456789abcdef"
        let new = "new-key-0123456789abcdef"
        func file(_ keys: [String]) -> String {
            """
            clients:
              - name: portal
                key_sha256: [\(keys.map(ClientKey.sha256Hex).joined(separator: ", "))]
                projects: ["\(testProjectID)"]
            """
        }
        let path = try Self.clientsFile(file([old, new]))
        defer { try? FileManager.default.removeItem(at: path.deletingLastPathComponent()) }
        let registry = try ClientRegistry.load(path: path.path, defaultRateLimit: .init(rate: 100, burst: 100))
        try await withGateway(shared: [Self.image], adjust: { $0.clientAuthentication = .clients(registry) }) { harness in
            #expect(try await harness.post("/accept-images", json: Self.body, key: old).status == 200)
            #expect(try await harness.post("/accept-images", json: Self.body, key: new).status == 200)
            try file([new]).write(to: path, atomically: true, encoding: .utf8)
            #expect(try registry.reload() == 1)
            #expect(try await harness.post("/accept-images", json: Self.body, key: old).status == 401)
            #expect(try await harness.post("/accept-images", json: Self.body, key: new).status == 200)
            #expect(try await harness.simulatorCalls("BatchUpdateMembers") == 3)
        }
    }

    @Test("a key for another project: 403 naming the project, nothing sent upstream")
    func otherProject() async throws {
        let key = "project-bound-key-0123456789"
        let registry = ClientRegistry(entries: [
            ClientEntry(
                identity: ClientIdentity(name: "ci", projects: .only([Self.otherProject]), rateLimit: .init(rate: 100, burst: 100)),
                keys: [key])
        ])
        try await withGateway(shared: [Self.image], adjust: { $0.clientAuthentication = .clients(registry) }) { harness in
            let answer = try await harness.post("/accept-images", json: Self.body, key: key)
            #expect(answer.status == 403)
            #expect(answer.json["type"] as? String == "urn:ims-gateway:problem:project-not-allowed")
            #expect((answer.json["detail"] as? String)?.contains(testProjectID) == true)
            #expect(try await harness.simulatorCallsTotal() == 0)
            let metrics = String(decoding: try await harness.get("/metrics").body, as: UTF8.self)
            #expect(metrics.contains(#"imsgw_client_auth_failures_total{reason="project_not_allowed"} 1"#))
        }
    }

    @Test("--insecure-no-auth: any caller is the client anonymous")
    func insecureNoAuth() async throws {
        try await withGateway(
            shared: [Self.image], adjust: { $0.clientAuthentication = .insecureNoAuth(rateLimit: .init(rate: 100, burst: 100)) }
        ) { harness async throws in
            #expect(try await harness.post("/accept-images", json: Self.body, key: nil).status == 200)
        }
    }

    @Test("20 simultaneous calls at rate 1/s burst 5, in real time: 5 to 8 admitted, the rest 429 with headers")
    func rateLimitInRealTime() async throws {
        let limited = "limited-key-0123456789abcdef"
        let other = "other-key-0123456789abcdef"
        let registry = ClientRegistry(entries: [
            ClientEntry(identity: ClientIdentity(name: "limited", projects: .all, rateLimit: .init(rate: 1, burst: 5)), keys: [limited]),
            ClientEntry(identity: ClientIdentity(name: "other", projects: .all, rateLimit: .init(rate: 1, burst: 5)), keys: [other]),
        ])
        try await withGateway(shared: [], adjust: { $0.clientAuthentication = .clients(registry) }) { harness in
            // Bodies that are refused 400 after the rate limit: no upstream work, cheap.
            let answers = try await withThrowingTaskGroup(of: GatewayHarness.Answer.self) { group in
                for _ in 0..<20 {
                    group.addTask { try await harness.post("/accept-images", raw: Array("{}".utf8), key: limited) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let admitted = answers.filter { $0.status == 400 }
            let refused = answers.filter { $0.status == 429 }
            // The burst, plus one a second for as long as the 20 calls take (loose: a loaded machine).
            #expect((5...8).contains(admitted.count), "admitted \(admitted.count)")
            #expect(admitted.count + refused.count == 20)
            for answer in refused {
                #expect(answer.header("Retry-After").flatMap(Int.init).map { $0 >= 1 } == true)
                #expect(answer.header("RateLimit-Policy") == #""client";q=5;w=5"#)
                #expect(answer.header("RateLimit")?.hasPrefix(#""client";r=0;t="#) == true)
                #expect(answer.json["type"] as? String == "urn:ims-gateway:problem:rate-limited")
            }
            for answer in admitted {
                #expect(answer.header("RateLimit-Policy") == #""client";q=5;w=5"#)
                #expect(answer.header("RateLimit") != nil)
            }
            // The other client still has its whole burst.
            for _ in 0..<5 {
                #expect(try await harness.post("/accept-images", raw: Array("{}".utf8), key: other).status == 400)
            }
            let metrics = String(decoding: try await harness.get("/metrics").body, as: UTF8.self)
            #expect(metrics.contains(#"imsgw_rate_limited_total{direction="inbound"} \#(refused.count)"#))
        }
    }
}
