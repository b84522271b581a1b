import CurlHTTP
import Foundation
import IMSClient
import IMSSimulator
import Testing

@testable import IMSGateway

/// Browser tokens (docs/ARCHITECTURE.md, "Portals"): made by `POST /browser-tokens` with a client
/// key, accepted only from their origin, for their projects, within their lifetime.
@Suite("browser tokens", .serialized)
struct BrowserTokenTests {
    static let portal = "http://portal.test:8000"
    static let secret = "browser-token-secret-0123456789abcdefghij"
    static let otherProject = "fedcba9876543210fedcba9876543210"

    static func configure(_ configuration: inout GatewayConfiguration) {
        configuration.corsAllowedOrigins = [portal]
        configuration.browserTokensSecret = secret
    }

    static func token(_ harness: GatewayHarness, projects: [String] = [testProjectID], ttl: Int? = 60) async throws -> String {
        var body: [String: Any] = ["origin": portal, "projects": projects]
        if let ttl { body["ttl_seconds"] = ttl }
        let answer = try await harness.post("/browser-tokens", json: body)
        try #require(answer.status == 201, "\(answer.json)")
        return try #require(answer.json["token"] as? String)
    }

    static func accept(
        _ harness: GatewayHarness, token: String, origin: String?, project: String = testProjectID, images: [String]
    ) async throws -> CurlHTTPResponse {
        var headers = [(name: "Authorization", value: "Bearer \(token)"), (name: "Content-Type", value: "application/json")]
        if let origin { headers.append((name: "Origin", value: origin)) }
        let body = try JSONSerialization.data(withJSONObject: ["project_id": project, "images": images])
        return try await harness.http.execute(CurlHTTPRequest(
            method: "POST", url: harness.gateway.baseURL + "/accept-images", headers: headers, body: Array(body)))
    }

    static func problemType(_ response: CurlHTTPResponse) -> String? {
        ((try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any])?["type"] as? String
    }

    @Test("POST /browser-tokens with a client key: 201 with a JWT, its lifetime and Cache-Control: no-store; the token works from its origin for its project")
    func issueAndUse() async throws {
        let images = testImages(1)
        try await withGateway(shared: images, adjust: Self.configure) { harness in
            let answer = try await harness.post(
                "/browser-tokens", json: ["origin": Self.portal, "projects": [testProjectID.uppercased()], "ttl_seconds": 60])
            #expect(answer.status == 201)
            #expect(answer.header("Cache-Control") == "no-store")
            #expect(answer.json["token_type"] as? String == "Bearer")
            #expect(answer.json["expires_in"] as? Int == 60)
            #expect(answer.json["projects"] as? [String] == [testProjectID])
            let token = try #require(answer.json["token"] as? String)
            #expect(token.split(separator: ".").count == 3)
            let used = try await Self.accept(harness, token: token, origin: Self.portal, images: images)
            #expect(used.status == 200, "\(String(decoding: used.body, as: UTF8.self))")
        }
    }

    @Test("a wrong or missing Origin is 403 origin-not-allowed; another project 403; a changed byte or another key 401; an expired token 401; a browser token cannot make one")
    func refusals() async throws {
        let images = testImages(1)
        try await withGateway(shared: images, adjust: Self.configure) { harness in
            let token = try await Self.token(harness)
            for origin in ["http://evil.test", nil] as [String?] {
                let refused = try await Self.accept(harness, token: token, origin: origin, images: images)
                #expect(refused.status == 403, "\(String(describing: origin))")
                #expect(Self.problemType(refused) == "urn:ims-gateway:problem:origin-not-allowed")
            }
            let otherProject = try await Self.accept(harness, token: token, origin: Self.portal, project: Self.otherProject, images: images)
            #expect(otherProject.status == 403)
            #expect(Self.problemType(otherProject) == "urn:ims-gateway:problem:project-not-allowed")

            // One character of the signature changed.
            var tampered = Array(token)
            tampered[tampered.count - 2] = tampered[tampered.count - 2] == "A" ? "B" : "A"
            let bad = try await Self.accept(harness, token: String(tampered), origin: Self.portal, images: images)
            #expect(bad.status == 401)
            #expect(bad.header("WWW-Authenticate")?.contains("invalid_token") == true)
            // Signed with another key, and expired (made by tokens of our own).
            let stranger = BrowserTokens(secret: String(repeating: "x", count: 40), maxLifetimeSeconds: 900)
            let foreign = try await stranger.issue(client: "tester", origin: Self.portal, projects: [testProjectID], lifetimeSeconds: 60).token
            #expect(try await Self.accept(harness, token: foreign, origin: Self.portal, images: images).status == 401)
            let same = BrowserTokens(secret: Self.secret, maxLifetimeSeconds: 900)
            let expired = try await same.issue(
                client: "tester", origin: Self.portal, projects: [testProjectID], lifetimeSeconds: 60, now: Date().addingTimeInterval(-120)).token
            let late = try await Self.accept(harness, token: expired, origin: Self.portal, images: images)
            #expect(late.status == 401)
            #expect(String(decoding: late.body, as: UTF8.self).contains("expired"))
            let fresh = try await same.issue(client: "tester", origin: Self.portal, projects: [testProjectID], lifetimeSeconds: 60).token
            #expect(try await Self.accept(harness, token: fresh, origin: Self.portal, images: images).status == 200, "the gateway's key")

            let chained = try await harness.post(
                "/browser-tokens", json: ["origin": Self.portal, "projects": [testProjectID]], headers: [("Origin", Self.portal)],
                key: token)
            #expect(chained.status == 403)
            #expect(chained.json["type"] as? String == "urn:ims-gateway:problem:browser-token-not-allowed")
        }
    }

    @Test("bad bodies are 400 naming each field; without browserTokens.secret the route is 404 browser-tokens-off")
    func validation() async throws {
        try await withGateway(shared: [], adjust: Self.configure) { harness in
            let answer = try await harness.post(
                "/browser-tokens", json: ["origin": "http://evil.test", "projects": ["nope"], "ttl_seconds": 5000, "extra": 1])
            #expect(answer.status == 400)
            let fields = Set((answer.json["errors"] as? [[String: Any]] ?? []).compactMap { $0["field"] as? String })
            #expect(fields == ["origin", "projects[0]", "ttl_seconds", "extra"])
            let noProjects = try await harness.post("/browser-tokens", json: ["origin": Self.portal, "projects": []])
            #expect(noProjects.status == 400)
            let unauthenticated = try await harness.post("/browser-tokens", json: ["origin": Self.portal, "projects": [testProjectID]], key: nil)
            #expect(unauthenticated.status == 401)
        }
        try await withGateway(shared: []) { harness in
            let off = try await harness.post("/browser-tokens", json: ["origin": Self.portal, "projects": [testProjectID]])
            #expect(off.status == 404)
            #expect(off.json["type"] as? String == "urn:ims-gateway:problem:browser-tokens-off")
        }
    }

    @Test("a browser token counts against its client's rate limit: burst 3 shared by the key and the token")
    func sharesTheRateLimit() async throws {
        let images = testImages(1)
        let limited = ClientRegistry(entries: [
            ClientEntry(
                identity: ClientIdentity(name: "tester", projects: .all, rateLimit: ClientRateLimit(rate: 0.001, burst: 3)),
                keys: [testClientKey])
        ])
        try await withGateway(shared: images, adjust: { configuration in
            Self.configure(&configuration)
            configuration.clientAuthentication = .clients(limited)
        }) { harness in
            let token = try await Self.token(harness)  // 1
            #expect(try await Self.accept(harness, token: token, origin: Self.portal, images: images).status == 200)  // 2
            #expect(try await Self.accept(harness, token: token, origin: Self.portal, images: images).status == 200)  // 3
            let over = try await Self.accept(harness, token: token, origin: Self.portal, images: images)
            #expect(over.status == 429)
            #expect(try await harness.post("/browser-tokens", json: ["origin": Self.portal, "projects": [testProjectID]]).status == 429)
        }
    }

    @Test("one spelling only: a padded part, a header other than HS256, or an iat in the future is refused; the secret never shows in the configuration's description")
    func strictTokens() async throws {
        let tokens = BrowserTokens(secret: Self.secret, maxLifetimeSeconds: 900)
        let good = try await tokens.issue(client: "tester", origin: Self.portal, projects: [testProjectID], lifetimeSeconds: 60).token
        guard case .success = await tokens.verify(good) else {
            Issue.record("a good token was refused")
            return
        }
        #expect(await tokens.verify(good + "=") == .failure(.invalid))
        #expect(BrowserTokens.headerAlgorithm(good) == "HS256")
        // {"alg":"HS512","typ":"JWT"}
        #expect(BrowserTokens.headerAlgorithm("eyJhbGciOiJIUzUxMiIsInR5cCI6IkpXVCJ9.e30.x") == "HS512")
        let ahead = try await tokens.issue(
            client: "tester", origin: Self.portal, projects: [testProjectID], lifetimeSeconds: 600,
            now: Date().addingTimeInterval(3600)).token
        #expect(await tokens.verify(ahead) == .failure(.invalid), "issued an hour from now: it would outlive its lifetime")

        var configuration = GatewayConfiguration(
            imsBaseURL: "http://127.0.0.1:1", iamBaseURL: "http://127.0.0.1:1",
            credentials: .password(.init(domainName: "d", userName: "u", password: "iam-password-secret")))
        configuration.browserTokensSecret = Self.secret
        configuration.storePassword = "store-password-secret"
        for text in [String(describing: configuration), String(reflecting: configuration), "\(Mirror(reflecting: configuration).children.map(\.value))"] {
            for secret in [Self.secret, "store-password-secret", "iam-password-secret"] {
                #expect(!text.contains(secret), "\(secret) in \(text.prefix(200))")
            }
        }
    }
}
