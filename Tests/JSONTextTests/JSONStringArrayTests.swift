import Foundation
import Testing

@testable import JSONText

@Suite("JSONStringArray: the warnings and images columns")
struct JSONStringArrayTests {
    @Test("encodes compactly, escaping quotes, backslashes and control characters only")
    func encoding() {
        #expect(JSONStringArray.encode([]) == "[]")
        #expect(JSONStringArray.encode([""]) == "[\"\"]")
        #expect(
            JSONStringArray.encode(["d164b5df-1bc3-4c3f-893e-000000000000", "b"])
                == "[\"d164b5df-1bc3-4c3f-893e-000000000000\",\"b\"]")
        #expect(JSONStringArray.encode(["a\"b\\c/d"]) == #"["a\"b\\c/d"]"#)
        #expect(JSONStringArray.encode(["\u{8}\t\n\u{C}\r\u{0}\u{1F} é✓"]) == #"["\b\t\n\f\r\u0000\u001f é✓"]"#)
    }

    @Test("decodes what it encodes and what JSONEncoder wrote")
    func roundTrip() throws {
        let samples: [[String]] = [
            [], [""], ["a", "b"], ["a\"b", "c\\d", "e/f"], ["\u{0}\u{1}\u{1F}\u{7F}\t\n\r\u{8}\u{C}"],
            ["ünïcode ✓ 🇫🇷 😀", "\u{2028}\u{2029}"], ["],[\",\""],
        ]
        for strings in samples {
            #expect(try JSONStringArray.decode(JSONStringArray.encode(strings)) == strings)
            let foundation = String(decoding: try JSONEncoder().encode(strings), as: UTF8.self)
            #expect(try JSONStringArray.decode(foundation) == strings, "\(foundation)")
            #expect(try JSONDecoder().decode([String].self, from: Data(JSONStringArray.encode(strings).utf8)) == strings)
        }
        #expect(try JSONStringArray.decode(" [ \"\\u00E9\\uD83D\\uDE00\" ,\n\"x\\/y\" ] ") == ["é😀", "x/y"])
    }

    @Test("refuses what is not a JSON array of strings")
    func refusals() {
        for text in [
            "", " ", "[", "]", "[\"a\"", "[\"a\",]", "[,]", "[1]", "[null]", "{}", "\"a\"", "[\"a\"] x", "[\"a\"][]",
            "[\"\\x\"]", "[\"\\u12\"]", "[\"\\u12G4\"]", "[\"\\ud800\"]", "[\"\\udc00\"]", "[\"\\ud800\\u0041\"]",
            "[\"a\u{1}\"]", "[\"a\nb\"]", "[\"a\" \"b\"]",
        ] {
            #expect(throws: DecodingError.self, "\(text)") { try JSONStringArray.decode(text) }
        }
    }
}
