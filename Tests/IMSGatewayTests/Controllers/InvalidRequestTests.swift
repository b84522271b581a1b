import Foundation
import IMSGateway
import Testing

/// Invalid requests are answered before any upstream call: the simulator counts nothing.
@Suite("invalid requests", .serialized)
struct InvalidRequestTests {
    static let valid = "d164b5df-1bc3-4c3f-893e-3e471fd16e64"

    /// A body and the fields the 400 answer must name.
    struct Case: Sendable, CustomStringConvertible {
        let description: String
        let path: String
        let body: String
        let fields: [String]
    }

    static let cases: [Case] = [
        Case(description: "not JSON", path: "/accept-images", body: "{not json", fields: ["body"]),
        Case(description: "a JSON array", path: "/accept-images", body: "[1,2]", fields: ["body"]),
        Case(description: "empty object", path: "/accept-images", body: "{}", fields: ["project_id", "images"]),
        Case(
            description: "project_id too short", path: "/accept-images",
            body: #"{"project_id":"abc","images":["\#(valid)"]}"#, fields: ["project_id"]),
        Case(
            description: "project_id of 32 characters that are not all hex", path: "/accept-images",
            body: #"{"project_id":"0123456789abcdef0123456789abcdeg","images":["\#(valid)"]}"#, fields: ["project_id"]),
        Case(
            description: "project_id with a path separator", path: "/accept-images",
            body: #"{"project_id":"0123456789abcdef0123456789abcd/e","images":["\#(valid)"]}"#, fields: ["project_id"]),
        Case(
            description: "project_id with a query character", path: "/accept-images",
            body: #"{"project_id":"0123456789abcdef0123456789abcd?e","images":["\#(valid)"]}"#, fields: ["project_id"]),
        Case(
            description: "project_id not a string", path: "/accept-images",
            body: #"{"project_id":123,"images":["\#(valid)"]}"#, fields: ["project_id"]),
        Case(
            description: "images empty", path: "/accept-images",
            body: #"{"project_id":"\#(testProjectID)","images":[]}"#, fields: ["images"]),
        Case(
            description: "images not an array", path: "/accept-images",
            body: #"{"project_id":"\#(testProjectID)","images":"\#(valid)"}"#, fields: ["images"]),
        Case(
            description: "images null", path: "/accept-images",
            body: #"{"project_id":"\#(testProjectID)","images":null}"#, fields: ["images"]),
        Case(
            description: "an image that is not a string", path: "/accept-images",
            body: #"{"project_id":"\#(testProjectID)","images":["\#(valid)",7]}"#, fields: ["images[1]"]),
        Case(
            description: "an image that is an object", path: "/accept-images",
            body: #"{"project_id":"\#(testProjectID)","images":[{"id":"\#(valid)"}]}"#, fields: ["images[0]"]),
        Case(
            description: "a blank image", path: "/accept-images",
            body: #"{"project_id":"\#(testProjectID)","images":["\#(valid)","  "]}"#, fields: ["images[1]"]),
        Case(
            description: "an empty image", path: "/accept-images",
            body: #"{"project_id":"\#(testProjectID)","images":[""]}"#, fields: ["images[0]"]),
        Case(
            description: "a compound id with a semicolon", path: "/accept-images",
            body: #"{"project_id":"\#(testProjectID)","images":["\#(valid);\#(valid)"]}"#, fields: ["images[0]"]),
        Case(
            description: "a compound id with a comma", path: "/accept-images",
            body: #"{"project_id":"\#(testProjectID)","images":["a,b"]}"#, fields: ["images[0]"]),
        Case(
            description: "a non-UUID image", path: "/accept-images",
            body: #"{"project_id":"\#(testProjectID)","images":["not-a-uuid"]}"#, fields: ["images[0]"]),
        Case(
            description: "a UUID behind a path traversal", path: "/accept-images",
            body: #"{"project_id":"\#(testProjectID)","images":["../\#(valid)"]}"#, fields: ["images[0]"]),
        Case(
            description: "several bad images, each named", path: "/accept-images",
            body: #"{"project_id":"\#(testProjectID)","images":["\#(valid)",7,"  ","\#(valid);\#(valid)","a,b","not-a-uuid"]}"#, fields: ["images[1]", "images[2]", "images[3]", "images[4]", "images[5]"]),
        Case(
            description: "vault_id on reject", path: "/reject-images",
            body: #"{"project_id":"\#(testProjectID)","images":["\#(valid)"],"vault_id":"3b5816b5-f29c-4172-9d9a-76c719a659ce"}"#,
            fields: ["vault_id"]),
        Case(
            description: "vault_id not a UUID", path: "/accept-images",
            body: #"{"project_id":"\#(testProjectID)","images":["\#(valid)"],"vault_id":"../x"}"#, fields: ["vault_id"]),
        Case(
            description: "project_id given twice", path: "/accept-images",
            body: #"{"project_id":"00000000000000000000000000000000","project_id":"\#(testProjectID)","images":["\#(valid)"]}"#,
            fields: ["project_id"]),
        Case(
            description: "project_id given twice behind a UTF-8 byte order mark", path: "/accept-images",
            body: "\u{FEFF}" + #"{"project_id":"00000000000000000000000000000000","project_id":"\#(testProjectID)","images":["\#(valid)"]}"#,
            fields: ["project_id"]),
        Case(
            description: "images given twice, one spelled with an escape", path: "/accept-images",
            body: #"{"project_id":"\#(testProjectID)","images":["zzz"],"imag\u0065s":["\#(valid)"]}"#,
            fields: ["images"]),
        Case(
            description: "unknown field (typo)", path: "/accept-images",
            body: #"{"project_id":"\#(testProjectID)","image":["\#(valid)"]}"#, fields: ["image", "images"]),
    ]

    @Test("400 naming every bad field, and nothing sent upstream", arguments: cases)
    func refused(_ testCase: Case) async throws {
        try await withGateway(shared: [Self.valid]) { harness in
            let answer = try await harness.post(testCase.path, raw: Array(testCase.body.utf8))
            #expect(answer.status == 400)
            #expect(answer.header("Content-Type") == "application/problem+json")
            let json = answer.json
            #expect(json["type"] as? String == "urn:ims-gateway:problem:invalid-request")
            #expect(json["status"] as? Int == 400)
            let fields = (json["errors"] as? [[String: Any]] ?? []).compactMap { $0["field"] as? String }
            #expect(fields == testCase.fields)
            #expect(try await harness.simulatorCallsTotal() == 0)
        }
    }

    @Test("more images than max_images_per_request: 400")
    func tooManyImages() async throws {
        try await withGateway(shared: [], adjust: { $0.maxImagesPerRequest = 10 }) { harness in
            let answer = try await harness.post(
                "/accept-images", json: ["project_id": testProjectID, "images": testImages(11)])
            #expect(answer.status == 400)
            let fields = (answer.json["errors"] as? [[String: Any]] ?? []).compactMap { $0["field"] as? String }
            #expect(fields == ["images"])
            #expect(try await harness.simulatorCallsTotal() == 0)
        }
    }

    @Test("wrong content type: 415")
    func wrongContentType() async throws {
        try await withGateway(shared: []) { harness in
            let answer = try await harness.post(
                "/accept-images", raw: Array(#"{"project_id":"x"}"#.utf8), contentType: "text/plain")
            #expect(answer.status == 415)
            #expect(answer.header("Content-Type") == "application/problem+json")
            let missing = try await harness.post("/accept-images", raw: Array("{}".utf8), contentType: nil)
            #expect(missing.status == 415)
            #expect(try await harness.simulatorCallsTotal() == 0)
        }
    }

    @Test("body over the limit: 413, and the gateway keeps serving")
    func bodyTooLarge() async throws {
        try await withGateway(shared: [], adjust: { $0.maxBodyBytes = 4096 }) { harness in
            let big = #"{"project_id":"\#(testProjectID)","images":["\#(String(repeating: "a", count: 8000))"]}"#
            let answer = try await harness.post("/accept-images", raw: Array(big.utf8))
            #expect(answer.status == 413)
            #expect(try await harness.get("/healthz").status == 200)
            #expect(try await harness.simulatorCallsTotal() == 0)
        }
    }
}

/// Refusals decided from the headers alone.
@Suite("refusals from headers", .serialized)
struct HeaderRefusalTests {
    @Test("a declared Content-Length over the limit is refused before the body is read")
    func declaredLengthTooLarge() async throws {
        try await withGateway(shared: [], adjust: { $0.maxBodyBytes = 4096 }) { harness in
            // libcurl sends Content-Length from the body; 5,000 bytes declare more than 4,096.
            let answer = try await harness.post("/accept-images", raw: Array(repeating: UInt8(ascii: " "), count: 5000))
            #expect(answer.status == 413)
            #expect(try await harness.simulatorCallsTotal() == 0)
        }
    }

    @Test("a Content-Encoding other than identity is refused with 415")
    func contentEncoding() async throws {
        try await withGateway(shared: []) { harness in
            let answer = try await harness.post(
                "/accept-images", raw: Array(#"{"project_id":"x"}"#.utf8), headers: [("Content-Encoding", "gzip")])
            #expect(answer.status == 415)
            #expect((answer.json["detail"] as? String)?.contains("Content-Encoding") == true)
        }
    }

    @Test("headers of 100 KB: 431 or a closed connection, and the gateway keeps serving")
    func oversizedHeaders() async throws {
        try await withGateway(shared: []) { harness async throws in
            let huge = String(repeating: "x", count: 100_000)
            do {
                let answer = try await harness.post(
                    "/accept-images", raw: Array("{}".utf8), headers: [("X-Filler", huge)])
                #expect([431, 400].contains(answer.status), "status \(answer.status)")
            } catch {
                // The server framework may close the connection instead of answering.
            }
            #expect(try await harness.get("/healthz").status == 200)
            #expect(try await harness.simulatorCallsTotal() == 0)
        }
    }

    @Test("thousands of bad fields give at most 100 entries in errors[]")
    func fieldErrorsAreCapped() async throws {
        try await withGateway(shared: []) { harness in
            let images = (0..<500).map { "bad-\($0)" }
            let answer = try await harness.post("/accept-images", json: ["project_id": testProjectID, "images": images])
            #expect(answer.status == 400)
            #expect((answer.json["errors"] as? [Any])?.count == 100)
            #expect((answer.json["detail"] as? String)?.hasPrefix("500 field(s)") == true)
        }
    }
}
