import Foundation
import Testing

@testable import JSONText

/// ``JSONReader`` must accept and refuse what `JSONSerialization` accepts and refuses, and give
/// the same values: every case is run through both and compared. The one difference is meant:
/// texts with NUL bytes, which JSONSerialization may read as UTF-16 or UTF-32, are refused.
@Suite("JSONReader")
struct JSONReaderTests {
    /// `JSONSerialization`'s reading of `bytes` (nil: refused).
    private static func foundation(_ bytes: [UInt8]) -> Any? {
        try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
    }

    /// Whether two readings are the same value: the same kinds, keys and elements, numbers
    /// equal as numbers and booleans as booleans.
    private static func same(_ a: Any?, _ b: Any?) -> Bool {
        switch (a, b) {
        case (nil, nil): return true
        case (let a as [String: Any], let b as [String: Any]):
            return a.count == b.count && a.allSatisfy { key, value in b[key].map { same(value, $0) } ?? false }
        case (let a as [Any], let b as [Any]):
            return a.count == b.count && zip(a, b).allSatisfy { same($0, $1) }
        case (let a as String, let b as String):
            return Array(a.utf8) == Array(b.utf8)
        case (is NSNull, is NSNull):
            return true
        case (let a as NSNumber, let b as NSNumber):
            // The same kind (a boolean is an NSNumber of type "c"; Int64 "q", UInt64 "Q",
            // Double "d"; a decimal number its own class) and the same text: numbers that are
            // equal as numbers can still read back differently (`stringValue`).
            return String(cString: a.objCType) == String(cString: b.objCType)
                && (a is NSDecimalNumber) == (b is NSDecimalNumber) && a.stringValue == b.stringValue
        default:
            return false
        }
    }

    private static func check(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        check(Array(text.utf8), label: text, sourceLocation: sourceLocation)
    }

    private static func check(_ bytes: [UInt8], label: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let expected = foundation(bytes)
        let actual = JSONReader.value(bytes)
        #expect(
            same(actual, expected), "\(label): JSONReader \(String(describing: actual)), JSONSerialization \(String(describing: expected))",
            sourceLocation: sourceLocation)
    }

    /// A ShowJob answer of the shape docs/IMS-API.md, "Job queries" describes: a job of two
    /// images, one refused, with null fields and white space between the tokens.
    static let jobAnswer = """
        {"job_id": "ff8080814dbd65d7014dc2e13e6f1a3c", "job_type": "imsUpdateImageMembersJob", "status": "FAIL",
         "begin_time": "2026-12-08T01:02:03.456Z", "end_time": "2026-12-08T01:02:09.001Z",
         "error_code": "IMG.0104", "fail_reason": "image 7c3b1e2f-... is not shared with the project",
         "entities": {"results": [
           {"image_id": "3f8a2b1c-1111-4222-8333-444455556666", "project_id": "0123456789abcdef0123456789abcdef", "status": "success"},
           {"image_id": "7c3b1e2f-4a5b-4c1d-9d0e-0b2a8c1e5f7a", "project_id": "0123456789abcdef0123456789abcdef", "status": "failed"}],
          "error": null}}
        """

    @Test("an IMS job answer reads as the same values", arguments: [
        jobAnswer,
        #"{"status":"SUCCESS","job_id":"ff8080814dbd65d7014dc1e1b9e40a7d","job_type":"imsUpdateImageMembersJob","begin_time":"2026-12-07T23:50:00.123Z","end_time":"","error_code":null,"fail_reason":null,"entities":{"results":[{"image_id":"3f8a2b1c-1111-2222-3333-444455556666","project_id":"0123456789abcdef0123456789abcdef","status":"success"}]}}"#,
        #"{"job_id":"ff8080814dbd65d7014dc2e13e6f1a3c"}"#,
        #"{"error":{"code":"IMG.0001","message":"The request is invalid."},"request_id":"a1b2"}"#,
        "  {\r\n\t\"status\" : \"RUNNING\" ,\n \"entities\" : { } }  \n",
    ])
    func upstreamAnswers(_ text: String) throws {
        Self.check(text)
        #expect(JSONReader.value(Array(text.utf8)) is [String: Any])
    }

    @Test("values of every kind", arguments: [
        "{}", "[]", "[[]]", #"{"a":{}}"#, "true", "false", "null", #""""#, #""text""#,
        "0", "-0", "7", "-7", "10", "1.5", "-1.5e3", "2E+2", "3e-2", "0.000001",
        "9223372036854775807", "-9223372036854775808", "9223372036854775808", "18446744073709551615",
        "18446744073709551616", "1e308", "123456789012345678901234567890",
        #"[1,"two",true,false,null,{"k":[]}]"#,
        #"{"a":1,"a":2}"#, "[1,]", "[1 , ]", #"{"a":1,}"#, #"{"a":1 , }"#, "[[],]",
        // Long numbers: JSONSerialization keeps every digit of a text of more than 17
        // characters before its (lower-case) exponent, as a decimal number.
        "12345678901234567890123", "1234567890123456789e0", "0.30000000000000004", "-1234567890123456789",
        "-12345678901234567890", "123456789012345678.5e127", "123456789012345678.5e128", "123456789012345678E2",
        "1.5E3", "-0.0", "1e-400", "123456789012345678901234567890e-129",
        // A number no NSNumber holds, replaced by a repeated key, does not refuse the text.
        #"{"a":1e400,"a":1}"#, #"{"a":[1e400],"a":1}"#, #"{"a":{"b":[1,1e400]},"a":2}"#, #"{"a":1,"a":1e400}"#,
        #"{"a":1e400,"b":1e400,"a":1}"#, "[1e400]", #"{"a":1e400}"#, #"{"":""}"#, #"{"a":[1,{"b":null}]}"#,
    ])
    func valuesOfEveryKind(_ text: String) {
        Self.check(text)
    }

    @Test("escapes and characters in strings", arguments: [
        #""\"\\\/\b\f\n\r\t""#, #""\u0041\u00e9\u4e2d""#, #""\u0000""#, #""\uD83D\uDE00""#,
        "\"é中😀\"", #""a\u0022b""#, #""\u00""#, #""\uD83D""#, #""\uDE00""#, #""\uD83Dx""#,
        // A byte order mark that starts a string or follows an escape is dropped, as there.
        "\"\u{FEFF}a\"", "\"\\n\u{FEFF}a\"", "\"a\u{FEFF}\"", "\"\u{FEFF}\"", "{\"\u{FEFF}k\":1}", "\"\u{FEFF}\u{FEFF}a\"",
        "\"\\u0041\u{FEFF}b\"",
        #""\uD83D\u0041""#, #""\x""#, #""\uGGGG""#, #""abc"#, #""\"#, "\"a\tb\"", "\"a\nb\"", "\"\u{7F}\"",
    ])
    func strings(_ text: String) {
        Self.check(text)
    }

    @Test("texts both refuse", arguments: [
        "", " ", "{", "}", "[", "]", "[,]", "{,}", "[1,,]", "[,1]", "{\"a\":1,,}", "{a:1}", "{'a':1}", "[1 2]", "{\"a\" 1}", "{\"a\":}",
        "01", "-", "1.", ".5", "1e", "1e+", "+1", "0x10", "NaN", "Infinity", "-Infinity", "1e400", "tru", "nul",
        "truex", "[true false]", "{} {}", "[] x", "// c\n{}", "/* c */{}", "{\"a\":1}/", "\u{00A0}{}",
    ])
    func refused(_ text: String) {
        Self.check(text)
        #expect(JSONReader.value(Array(text.utf8)) == nil, "\(text)")
    }

    @Test("invalid UTF-8, byte order marks and raw bytes")
    func bytes() {
        let cases: [[UInt8]] = [
            [0x22, 0xFF, 0x22], [0x22, 0xC3, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22], [0x22, 0xC0, 0xAF, 0x22],
            [0xEF, 0xBB, 0xBF] + Array("{}".utf8), [0xEF, 0xBB, 0xBF], [0x7B, 0x00, 0x7D], [0x00],
            Array("[\"a\"]".utf8) + [0x00],
        ]
        for bytes in cases { Self.check(bytes, label: "\(bytes)") }
    }

    @Test("nesting: as deep as JSONSerialization reads, and no deeper")
    func nesting() {
        for depth in [100, 510, 511, 512, 513, 514, 2_000] {
            Self.check(Array(String(repeating: "[", count: depth).utf8) + Array(String(repeating: "]", count: depth).utf8), label: "[ x \(depth)")
            let objects = String(repeating: #"{"a":"#, count: depth) + "1" + String(repeating: "}", count: depth)
            Self.check(Array(objects.utf8), label: "{ x \(depth)")
        }
        // Deep nesting that never closes is refused without exhausting the stack.
        #expect(JSONReader.value(Array(String(repeating: "[", count: 100_000).utf8)) == nil)
    }

    @Test("a long number reads back with every digit (a job id IMS sends as a number)")
    func longNumberAsText() {
        let object = JSONReader.value(Array(#"{"job_id":12345678901234567890123}"#.utf8)) as? [String: Any]
        #expect((object?["job_id"] as? NSNumber)?.stringValue == "12345678901234567890123")
    }

    /// Every single-byte change of a real answer (each byte replaced by a few others, or
    /// removed), read by both: a hostile or broken upstream gets the same reading as before.
    @Test("mutated job answers read as JSONSerialization reads them")
    func mutations() {
        let body = Array(Self.jobAnswer.utf8)
        let replacements: [UInt8] = [0x22, 0x5C, 0x7B, 0x7D, 0x5B, 0x5D, 0x2C, 0x3A, 0x30, 0x20, 0x0A, 0x00, 0x41, 0xC3, 0xFF]
        var disagreements: [String] = []
        for index in body.indices {
            var removed = body
            removed.remove(at: index)
            var variants = [removed]
            for byte in replacements where byte != body[index] {
                var changed = body
                changed[index] = byte
                variants.append(changed)
            }
            for variant in variants where !Self.same(JSONReader.value(variant), Self.foundation(variant)) {
                disagreements.append(String(decoding: variant, as: UTF8.self))
            }
        }
        #expect(disagreements.isEmpty, "\(disagreements.count) disagreements, first: \(disagreements.first ?? "")")
    }

    /// Short texts drawn from JSON's own characters (a fixed seed, so a failure repeats): most
    /// are not JSON, some are, and each reads as JSONSerialization reads it.
    @Test("random texts of JSON's characters read as JSONSerialization reads them")
    func randomTexts() {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> UInt64 {
            // SplitMix64.
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        let alphabet = Array(#"{}[]"",:: 0123456789-+.eEtrufalsn\u/bAF"#.utf8) + [0x0A, 0x09, 0x00, 0xC3, 0xA9, 0xFF]
        var disagreements: [[UInt8]] = []
        var accepted = 0
        for _ in 0..<20_000 {
            let count = Int(next() % 12)
            let text = (0..<count).map { _ in alphabet[Int(next() % UInt64(alphabet.count))] }
            // JSONSerialization guesses UTF-16 and UTF-32 from NUL bytes ("3\0" is "3" in
            // UTF-16LE); JSON between systems is UTF-8 (RFC 8259, section 8.1), and a NUL byte
            // is never JSON's in UTF-8: such texts are refused here.
            if text.contains(0) {
                if JSONReader.value(text) != nil { disagreements.append(text) }
                continue
            }
            let expected = Self.foundation(text)
            if expected != nil { accepted += 1 }
            if !Self.same(JSONReader.value(text), expected) { disagreements.append(text) }
        }
        #expect(
            disagreements.isEmpty,
            "\(disagreements.count) disagreements, first: \(disagreements.first.map { String(decoding: $0, as: UTF8.self) } ?? "")")
        #expect(accepted > 100, "the draw must hold some valid JSON to compare (\(accepted))")
    }
}

