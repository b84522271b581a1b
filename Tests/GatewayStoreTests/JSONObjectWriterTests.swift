import Foundation
import Testing

@testable import GatewayStore

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
}
