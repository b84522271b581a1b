import Testing

@testable import IMSGateway

@Suite("Idempotency-Key header")
struct IdempotencyKeyTests {
    @Test(
        "a structured-field string, a bare token and a plain value are keys",
        arguments: [
            (#""8e03978e-40d5-43e8-bc93-6894a57f9324""#, "8e03978e-40d5-43e8-bc93-6894a57f9324"),
            ("8e03978e-40d5-43e8-bc93-6894a57f9324", "8e03978e-40d5-43e8-bc93-6894a57f9324"),
            ("build-42", "build-42"),
            (#""with \"quotes\" and space""#, #"with "quotes" and space"#),
            ("  padded  ", "padded"),
        ])
    func parsed(header: String, key: String) throws {
        #expect(try IdempotencyKey.parse(header) == key)
    }

    @Test("no header is no key")
    func absent() throws {
        #expect(try IdempotencyKey.parse(nil) == nil)
    }

    @Test(
        "empty, too long, unterminated or non-ASCII values are refused",
        arguments: ["", "   ", #""""#, String(repeating: "k", count: 256), #""open"#, "clé", "a b"])
    func refused(header: String) {
        #expect(throws: IdempotencyKey.Invalid.self) { try IdempotencyKey.parse(header) }
    }

    @Test("a key of exactly 255 characters is accepted")
    func longest() throws {
        let key = String(repeating: "k", count: 255)
        #expect(try IdempotencyKey.parse(key) == key)
        #expect(try IdempotencyKey.parse("\"\(key)\"") == key)
    }
}
