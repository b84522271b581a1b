import Foundation
import Testing

@testable import IMSClient

@Suite("IAMTimestamp.parse and IAMToken")
struct IAMTokenTests {
    /// 2020-01-04T09:05:22Z: 18,262 days from 1970-01-01 to 2020-01-01 (50 years, 12 leap days)
    /// × 86,400 s + 3 days + 9 h 5 min 22 s.
    static let reference: TimeInterval = 18_262 * 86_400 + 3 * 86_400 + 9 * 3_600 + 5 * 60 + 22

    @Test func referenceValue() {
        #expect(Self.reference == 1_578_128_722)
    }

    @Test func iamExampleWithMicroseconds() throws {
        let date = try #require(IAMTimestamp.parse("2020-01-04T09:05:22.701000Z"))
        #expect(abs(date.timeIntervalSince1970 - 1_578_128_722.701) < 1e-6)
    }

    @Test(arguments: ["2020-01-04T09:05:22Z", "2020-01-04T09:05:22", "2020-01-04T09:05:22.000Z"])
    func wholeSeconds(text: String) throws {
        let date = try #require(IAMTimestamp.parse(text))
        #expect(date.timeIntervalSince1970 == Self.reference)
    }

    @Test(arguments: [
        "2020-01-04T17:05:22+08:00", "2020-01-04T17:05:22+0800", "2020-01-04T04:05:22-05:00",
        "2020-01-04T09:05:22+00:00",
    ])
    func numericOffset(text: String) throws {
        let date = try #require(IAMTimestamp.parse(text))
        #expect(date.timeIntervalSince1970 == Self.reference)
    }

    @Test func fractionWithOffset() throws {
        let date = try #require(IAMTimestamp.parse("2020-01-04T17:05:22.5+08:00"))
        #expect(date.timeIntervalSince1970 == Self.reference + 0.5)
    }

    @Test func epochAndLeapDay() throws {
        #expect(IAMTimestamp.parse("1970-01-01T00:00:00Z")?.timeIntervalSince1970 == 0)
        // 2024-01-01 is 19,723 days after the epoch; 29 February is 59 days later; plus 12 h.
        #expect(IAMTimestamp.parse("2024-02-29T12:00:00Z")?.timeIntervalSince1970 == TimeInterval((19_723 + 59) * 86_400 + 43_200))
    }

    @Test(arguments: [
        "", "garbage", "not-a-timestamp-at-all", "2020-01-04", "2020-01-04 09:05",
        "yyyy-mm-ddThh:mm:ssZ", "2020-01-04T09:05:22+8", "2020-01-04T09:05:22+08:00:00", "04-Jun-2015 18:11:06:586",
    ])
    func garbageIsNil(text: String) {
        #expect(IAMTimestamp.parse(text) == nil)
    }

    @Test func descriptionNeverShowsTheToken() {
        let secret = "MIIXsecretTokenValue0123456789"
        let token = IAMToken(value: secret, expiresAt: Date(timeIntervalSince1970: Self.reference))
        #expect(!token.description.contains(secret))
        #expect(token.description.hasPrefix("IAMToken(<redacted>, expires_at: 2020-01-04"))
        #expect(!"\(token)".contains(secret))
    }
}
