import CurlHTTP
import Foundation
import IMSGateway
import IMSSimulator
import Testing

/// CORS for the listed origins only (docs/ARCHITECTURE.md, "Portals").
@Suite("CORS", .serialized)
struct CORSTests {
    static let portal = "http://portal.test:8000"

    static func send(
        _ harness: GatewayHarness, _ method: String, _ path: String, headers: [(String, String)], body: [UInt8] = []
    ) async throws -> CurlHTTPResponse {
        try await harness.http.execute(CurlHTTPRequest(
            method: method, url: harness.gateway.baseURL + path, headers: headers.map { (name: $0.0, value: $0.1) }, body: body))
    }

    @Test("a listed origin: the preflight is answered 204 before authentication with the methods, headers and max age; real answers, 401 and 404 included, carry Allow-Origin, Expose-Headers and Vary: Origin")
    func listedOrigin() async throws {
        let images = testImages(1)
        try await withGateway(shared: images, adjust: { $0.corsAllowedOrigins = [Self.portal] }) { harness in
            let preflight = try await Self.send(
                harness, "OPTIONS", "/accept-images",
                headers: [
                    ("Origin", Self.portal), ("Access-Control-Request-Method", "POST"),
                    ("Access-Control-Request-Headers", "authorization, content-type, idempotency-key, prefer"),
                ])
            #expect(preflight.status == 204)
            #expect(preflight.header("Access-Control-Allow-Origin") == Self.portal)
            #expect(preflight.header("Access-Control-Allow-Methods") == "POST, GET")
            let allowed = (preflight.header("Access-Control-Allow-Headers") ?? "").lowercased()
            for name in ["authorization", "content-type", "idempotency-key", "prefer", "last-event-id", "x-request-id"] {
                #expect(allowed.contains(name), "\(name) not in \(allowed)")
            }
            #expect(preflight.header("Access-Control-Max-Age") == "600")
            #expect(preflight.header("Vary")?.contains("Origin") == true)

            let body = Array(#"{"project_id":"\#(testProjectID)","images":["\#(images[0])"]}"#.utf8)
            let answer = try await Self.send(
                harness, "POST", "/accept-images",
                headers: [("Origin", Self.portal), ("Authorization", "Bearer \(testClientKey)"), ("Content-Type", "application/json")],
                body: body)
            #expect(answer.status == 200)
            #expect(answer.header("Access-Control-Allow-Origin") == Self.portal)
            let exposed = answer.header("Access-Control-Expose-Headers") ?? ""
            for name in ["Location", "Retry-After", "RateLimit", "RateLimit-Policy", "Preference-Applied", "X-Request-Id", "Idempotent-Replayed"] {
                #expect(exposed.contains(name), "\(name) not exposed: \(exposed)")
            }
            #expect(answer.header("Vary")?.contains("Origin") == true)

            for (path, status) in [("/accept-images", 401), ("/no-such-path", 404)] {
                let refused = try await Self.send(
                    harness, "POST", path, headers: [("Origin", Self.portal), ("Content-Type", "application/json")], body: body)
                #expect(refused.status == status)
                #expect(refused.header("Access-Control-Allow-Origin") == Self.portal, "\(path)")
                #expect(refused.header("Access-Control-Expose-Headers") != nil, "\(path)")
            }
        }
    }

    @Test("an unlisted origin never gets Access-Control-Allow-Origin, neither on the preflight nor on an answer; answers without Origin still say Vary: Origin")
    func unlistedOrigin() async throws {
        let images = testImages(1)
        try await withGateway(shared: images, adjust: { $0.corsAllowedOrigins = [Self.portal] }) { harness in
            for origin in ["http://evil.test", "http://portal.test:8001", "null", Self.portal + "/"] {
                let preflight = try await Self.send(
                    harness, "OPTIONS", "/accept-images", headers: [("Origin", origin), ("Access-Control-Request-Method", "POST")])
                #expect(preflight.header("Access-Control-Allow-Origin") == nil, "\(origin)")
                let answer = try await Self.send(
                    harness, "GET", "/healthz", headers: [("Origin", origin)])
                #expect(answer.header("Access-Control-Allow-Origin") == nil, "\(origin)")
                #expect(answer.header("Access-Control-Expose-Headers") == nil, "\(origin)")
            }
            let plain = try await Self.send(harness, "GET", "/healthz", headers: [])
            #expect(plain.header("Vary")?.contains("Origin") == true)
        }
    }

    @Test("without cors.allowedOrigins, no CORS header at all")
    func off() async throws {
        try await withGateway(shared: []) { harness in
            let preflight = try await Self.send(
                harness, "OPTIONS", "/accept-images", headers: [("Origin", Self.portal), ("Access-Control-Request-Method", "POST")])
            #expect(preflight.header("Access-Control-Allow-Origin") == nil)
            #expect(preflight.header("Access-Control-Allow-Methods") == nil)
        }
    }

    @Test("with CORS on, a wrong method is still 405 with Allow and an unknown path a 404 problem, both with the CORS headers of a listed origin")
    func routingErrorsKeepTheirShape() async throws {
        try await withGateway(shared: [], adjust: { $0.corsAllowedOrigins = [Self.portal] }) { harness in
            let wrong = try await Self.send(
                harness, "DELETE", "/accept-images", headers: [("Origin", Self.portal), ("Authorization", "Bearer \(testClientKey)")])
            #expect(wrong.status == 405)
            #expect(wrong.header("Allow") == "POST")
            #expect(wrong.header("Content-Type") == "application/problem+json")
            #expect(wrong.header("Access-Control-Allow-Origin") == Self.portal)
            let unknown = try await Self.send(harness, "GET", "/nope", headers: [("Origin", Self.portal)])
            #expect(unknown.status == 404)
            #expect(unknown.header("Content-Type") == "application/problem+json")
            #expect(unknown.header("X-Request-Id") != nil)
        }
    }
}
