import Foundation
import Testing

@testable import JSONText

@Suite("JSONObjectWriter: the data of a request's events")
struct JSONObjectWriterTests {
    @Test("writes members in the order added, compact, strings escaped")
    func writing() {
        #expect(JSONObjectWriter().text == "{}")
        var object = JSONObjectWriter()
        object.add("index", 0)
        object.add("job_id", "a\"b\\c\n")
        object.add("count", -12)
        #expect(object.text == #"{"index":0,"job_id":"a\"b\\c\n","count":-12}"#)
        var inner = JSONObjectWriter()
        inner.add("images", ["x", "y\u{1}"])
        inner.add("none", [String]())
        var outer = JSONObjectWriter()
        outer.add("batches", [inner, JSONObjectWriter()])
        outer.add("empty", [JSONObjectWriter]())
        #expect(outer.text == #"{"batches":[{"images":["x","y\u0001"],"none":[]},{}],"empty":[]}"#)
    }

    @Test("what it writes, JSONSerialization reads back as the same values")
    func readable() throws {
        let odd = "ünïcode ✓ 😀 \u{0}\u{1F}\u{7F}\t\"\\/"
        var batch = JSONObjectWriter()
        batch.add("images", [odd, ""])
        batch.add("index", Int.max)
        var object = JSONObjectWriter()
        object.add(odd, odd)
        object.add("batches", [batch])
        let parsed = try #require(JSONSerialization.jsonObject(with: Data(object.text.utf8)) as? [String: Any])
        #expect(parsed[odd] as? String == odd)
        let batches = try #require(parsed["batches"] as? [[String: Any]])
        #expect(batches.count == 1)
        #expect(batches.first?["images"] as? [String] == [odd, ""])
        #expect((batches.first?["index"] as? NSNumber)?.intValue == Int.max)
    }

    @Test("every byte value at every place of an eight-byte word is escaped as one byte at a time would be")
    func wordScanMatchesTheBytewiseRule() {
        func reference(_ string: String) -> [UInt8] {
            var out: [UInt8] = [UInt8(ascii: "\"")]
            for byte in string.utf8 {
                switch byte {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"): out += [UInt8(ascii: "\\"), byte]
                case 0x08: out += Array(#"\b"#.utf8)
                case 0x09: out += Array(#"\t"#.utf8)
                case 0x0A: out += Array(#"\n"#.utf8)
                case 0x0C: out += Array(#"\f"#.utf8)
                case 0x0D: out += Array(#"\r"#.utf8)
                case ..<0x20: out += Array(String(format: "\\u%04x", Int(byte)).utf8)
                default: out.append(byte)
                }
            }
            out.append(UInt8(ascii: "\""))
            return out
        }
        for value in 0..<0x80 {
            for place in 0..<19 {
                var scalars = Array(repeating: Unicode.Scalar(UInt8(ascii: "a")), count: 19)
                scalars[place] = Unicode.Scalar(UInt8(value))
                let string = String(String.UnicodeScalarView(scalars))
                var written: [UInt8] = []
                JSONObjectWriter.appendString(string, to: &written)
                #expect(written == reference(string), "byte \(value) at \(place)")
            }
        }
        // Non-ASCII around the bytes that need an escape, and a run of them in one word.
        for string in ["é\"漢\\🙂\u{1}", "\"\"\"\"\"\"\"\"\"", String(repeating: "ü", count: 40) + "\n", "\u{7F}\u{80}\u{FF}"] {
            var written: [UInt8] = []
            JSONObjectWriter.appendString(string, to: &written)
            #expect(written == reference(string), "\(string)")
        }
    }

    @Test("the word test finds each byte to escape wherever it is, and nothing else")
    func wordTest() {
        let plain = UInt64(0x6161_6161_6161_6161)
        #expect(!JSONObjectWriter.needsEscape(plain))
        #expect(!JSONObjectWriter.needsEscape(0xFFFF_FFFF_FFFF_FFFF))
        #expect(!JSONObjectWriter.needsEscape(0x2020_2020_2020_2020))
        for shift in stride(from: 0, to: 64, by: 8) {
            for byte: UInt64 in 0...255 {
                let word = (plain & ~(0xFF << UInt64(shift))) | (byte << UInt64(shift))
                let expected = byte < 0x20 || byte == 0x22 || byte == 0x5C
                #expect(JSONObjectWriter.needsEscape(word) == expected, "byte \(byte) at bit \(shift)")
            }
        }
    }
}
