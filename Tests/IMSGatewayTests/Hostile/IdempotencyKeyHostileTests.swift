import Foundation
import IMSSimulator
import Testing

@testable import IMSGateway

/// `Idempotency-Key` values a hostile or careless client sends: parameters are refused, not
/// dropped; the code and openapi.yaml's pattern accept exactly the same values.
@Suite("hostile Idempotency-Key", .serialized)
struct IdempotencyKeyHostileTests {
    /// Values (as they reach the gateway, without surrounding white space) and whether they
    /// are keys.
    static let samples: [(value: String, accepted: Bool)] = [
        ("first-try", true), (#""first-try""#, true), ("8e03978e-40d5-43e8-bc93-6894a57f9324", true),
        (#""8e03978e-40d5-43e8-bc93-6894a57f9324""#, true), ("*token/with:colon", true), ("123", true),
        (#""a \"quoted\" key, with a comma; and a semicolon""#, true), (#""back\\slash""#, true),
        ("?1", true), (":aGVsbG8=:", true), ("a\\b", true), (#"" ""#, true),
        (String(repeating: "k", count: 255), true), ("\"" + String(repeating: "k", count: 255) + "\"", true),
        ("\"" + String(repeating: #"\""#, count: 255) + "\"", true),
        (#""k";x=1"#, false), ("k;x=1", false), ("123;x=1", false), (#""k";x"#, false), ("k;", false),
        (#""k"x"#, false), ("a,b", false), (#""a","b""#, false), ("a b", false),
        (#""open"#, false), (#"close""#, false), (#""bad\escape""#, false), (#""""#, false), ("", false),
        ("clé", false), ("\"clé\"", false), ("tab\there", false),
        (String(repeating: "k", count: 256), false), ("\"" + String(repeating: "k", count: 256) + "\"", false),
    ]

    /// The `pattern` of the `IdempotencyKey` parameter in openapi.yaml.
    static func openAPIPattern() throws -> String {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        let lines = try String(contentsOf: root.appendingPathComponent("openapi.yaml"), encoding: .utf8)
            .components(separatedBy: "\n")
        let start = try #require(lines.firstIndex(of: "    IdempotencyKey:"))
        let line = try #require(lines[start...].first { $0.trimmingCharacters(in: .whitespaces).hasPrefix("pattern:") })
        var value = line.trimmingCharacters(in: .whitespaces).dropFirst("pattern:".count).trimmingCharacters(in: .whitespaces)
        // A YAML single-quoted scalar: the outer quotes off, '' is one quote.
        #expect(value.hasPrefix("'") && value.hasSuffix("'"))
        value = String(value.dropFirst().dropLast())
        return value.replacingOccurrences(of: "''", with: "'")
    }

    @Test("openapi.yaml's Idempotency-Key pattern accepts exactly the values the gateway takes as keys")
    func patternMatchesCode() throws {
        let regex = try NSRegularExpression(pattern: try Self.openAPIPattern())
        for (value, accepted) in Self.samples {
            let matches = regex.firstMatch(in: value, range: NSRange(value.startIndex..., in: value)) != nil
            let parsed = (try? IdempotencyKey.parse(value)) != nil
            #expect(parsed == accepted, "code, \(value)")
            #expect(matches == accepted, "pattern, \(value)")
        }
    }

    @Test("a key with parameters is refused, not read as the key before them", arguments: [#""k";x=1"#, "k;x=1"])
    func parametersRefused(header: String) {
        #expect(throws: IdempotencyKey.Invalid.self) { try IdempotencyKey.parse(header) }
    }

    @Test("the bare and the quoted form are the same key")
    func bareAndQuoted() throws {
        #expect(try IdempotencyKey.parse("first-try") == "first-try")
        #expect(try IdempotencyKey.parse(#""first-try""#) == "first-try")
    }

    @Test(
        "a key with parameters is answered 400 naming Idempotency-Key, and nothing is submitted",
        arguments: [#""k";x=1"#, "k;x=1"])
    func parametersAnswered400(header: String) async throws {
        let images = testImages(1, seed: 13)
        try await withGateway(shared: images) { harness in
            let body = #"{"project_id":"\#(testProjectID)","images":["\#(images[0])"]}"#
            let connection = try await RawHTTPConnection.open(port: harness.gateway.port)
            try await connection.send(
                "POST /accept-images HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer \(testClientKey)\r\n"
                    + "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nIdempotency-Key: \(header)\r\n\r\n" + body)
            let response = try await connection.readResponse()
            #expect(response.status == 400, "\(response)")
            #expect(response.header("Content-Type") == "application/problem+json")
            #expect(response.json["type"] as? String == "urn:ims-gateway:problem:invalid-request")
            let errors = try #require(response.json["errors"] as? [[String: Any]])
            #expect(errors.count == 1)
            #expect(errors.first?["field"] as? String == "Idempotency-Key")
            #expect(errors.first?["detail"] as? String == "must not have parameters (;...)")
            #expect(try await harness.simulatorCallsTotal() == 0)
        }
    }

    @Test("a repeat with the quoted form of a bare key is replayed without a second submit")
    func quotedRepeatOfBareKey() async throws {
        let images = testImages(1, seed: 14)
        try await withGateway(shared: images) { harness in
            let body: [String: Any] = ["project_id": testProjectID, "images": images]
            let first = try await harness.post("/accept-images", json: body, headers: [("Idempotency-Key", "first-try")])
            #expect(first.status == 200)
            let second = try await harness.post("/accept-images", json: body, headers: [("Idempotency-Key", #""first-try""#)])
            #expect(second.status == 200)
            #expect(second.header("Idempotent-Replayed") == "true")
            #expect(try second.result().requestID == first.result().requestID)
            #expect(try await harness.simulatorCalls("BatchUpdateMembers") == 1)
        }
    }
}
