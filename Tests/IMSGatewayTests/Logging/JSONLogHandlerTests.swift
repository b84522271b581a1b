import Foundation
import Logging
import Testing

@testable import IMSGateway

@Suite("JSON log lines")
struct JSONLogHandlerTests {
    private func line(
        message: String = "request", metadata: Logger.Metadata = [:], level: Logger.Level = .info
    ) -> [UInt8] {
        JSONLogHandler.line(
            label: "ims-gateway", level: level, message: message, source: "IMSGateway", metadata: metadata,
            timestamp: "2026-11-29T14:00:00.000Z")
    }

    private func object(_ bytes: [UInt8]) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
    }

    @Test func fixedFieldsAndSortedKeysOnOneLine() throws {
        let bytes = line(metadata: ["status": "200", "client": "portal"])
        #expect(bytes.last == 0x0A)
        #expect(bytes.dropLast().contains(0x0A) == false)
        #expect(String(decoding: bytes, as: UTF8.self) == #"{"client":"portal","label":"ims-gateway","level":"info","msg":"request","source":"IMSGateway","status":"200","ts":"2026-11-29T14:00:00.000Z"}"# + "\n")
    }

    @Test func hostileStringsStayValidJSONAndRoundTrip() throws {
        let hostile = "quote \" backslash \\ newline \n return \r tab \t bell \u{07} nul \u{00} unit \u{1F} del \u{7F} é 漢 🙂 </script>"
        let bytes = line(message: hostile, metadata: [hostile: .string(hostile), "request_id": "a\"b"])
        #expect(bytes.dropLast().contains(0x0A) == false)
        let decoded = try object(bytes)
        #expect(decoded["msg"] as? String == hostile)
        #expect(decoded[hostile] as? String == hostile)
        #expect(decoded["request_id"] as? String == "a\"b")
        #expect(String(decoding: bytes, as: UTF8.self).contains(#"\u0007"#))
    }

    @Test func nestedMetadataIsObjectsAndArrays() throws {
        let decoded = try object(line(metadata: [
            "images": .array(["i-1", "i-2"]),
            "batch": .dictionary(["index": "0", "job": .dictionary(["id": "ff80"])]),
            "count": .stringConvertible(42),
        ]))
        #expect(decoded["images"] as? [String] == ["i-1", "i-2"])
        let batch = try #require(decoded["batch"] as? [String: Any])
        #expect(batch["index"] as? String == "0")
        #expect((batch["job"] as? [String: Any])?["id"] as? String == "ff80")
        #expect(decoded["count"] as? String == "42")
    }

    @Test func metadataCannotReplaceTheHandlersOwnFields() throws {
        let decoded = try object(line(
            message: "real", metadata: ["msg": "forged", "level": "critical", "ts": "1970", "label": "x", "source": "y"],
            level: .warning))
        #expect(decoded["msg"] as? String == "real")
        #expect(decoded["level"] as? String == "warning")
        #expect(decoded["ts"] as? String == "2026-11-29T14:00:00.000Z")
        #expect(decoded["label"] as? String == "ims-gateway")
        #expect(decoded["source"] as? String == "IMSGateway")
        #expect(decoded.count == 5)
    }

    @Test(arguments: [(0, 0), (951_782_400, 5), (1_764_937_077, 999), (4_102_444_799, 123), (1_709_164_800, 42)])
    func timestampIsISO8601WithMillisecondsAsFoundationWritesIt(seconds: Int, milliseconds: Int) {
        let date = Date(timeIntervalSince1970: Double(seconds) + Double(milliseconds) / 1000 + 0.0002)
        let foundation = date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
        #expect(JSONLogHandler.timestamp(seconds: seconds, milliseconds: milliseconds) == foundation)
    }

    @Test(arguments: [
        (-1, 999, "1969-12-31T23:59:59.999Z"), (-86_400 * 365, 0, "1969-01-01T00:00:00.000Z"),
        (4_107_542_400 - 1, 0, "2100-02-28T23:59:59.000Z"), (4_107_542_400, 0, "2100-03-01T00:00:00.000Z"),
        (951_868_800 - 1, 0, "2000-02-29T23:59:59.000Z"), (1_709_251_199, 7, "2024-02-29T23:59:59.007Z"),
        (1_714_521_599, 0, "2024-04-30T23:59:59.000Z"), (1_735_689_599, 500, "2024-12-31T23:59:59.500Z"),
        (-62_167_219_200, 0, "0000-01-01T00:00:00.000Z"), (253_402_300_799, 999, "9999-12-31T23:59:59.999Z"),
    ])
    func timestampAtMonthEndsLeapDaysAndBeforeTheEpoch(seconds: Int, milliseconds: Int, expected: String) {
        #expect(JSONLogHandler.timestamp(seconds: seconds, milliseconds: milliseconds) == expected)
    }

    @Test(arguments: [
        (-62_167_219_201, 0, "0000-01-01T00:00:00.000Z"), (Int.min / 2, 5, "0000-01-01T00:00:00.000Z"),
        (253_402_300_800, 0, "9999-12-31T23:59:59.999Z"), (Int.max / 2, 0, "9999-12-31T23:59:59.999Z"),
    ])
    func timestampOutsideFourDigitYearsIsClamped(seconds: Int, milliseconds: Int, expected: String) {
        #expect(JSONLogHandler.timestamp(seconds: seconds, milliseconds: milliseconds) == expected)
    }

    @Test func timestampOfNowIsTheWallClock() throws {
        let parsed = try #require(try? Date(JSONLogHandler.timestamp(), strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)))
        #expect(abs(parsed.timeIntervalSinceNow) < 5)
    }
}
