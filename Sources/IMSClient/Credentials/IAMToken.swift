import Foundation

/// A project-scoped IAM token: the `X-Subject-Token` response header of
/// `POST /v3/auth/tokens` and the `token.expires_at` of its body.
public struct IAMToken: Sendable, Equatable, CustomStringConvertible {
    /// The token itself (several KB). Secret: never logged.
    public var value: String
    /// When IAM says the token stops being valid.
    public var expiresAt: Date

    /// Creates a token value.
    public init(value: String, expiresAt: Date) {
        self.value = value
        self.expiresAt = expiresAt
    }

    public var description: String {
        "IAMToken(<redacted>, expires_at: \(expiresAt))"
    }
}

/// Parses IAM's `expires_at` (`2020-01-04T09:05:22.701000Z`; any number of fraction digits,
/// `Z` or a numeric offset, or none meaning UTC).
enum IAMTimestamp {
    static func parse(_ text: String) -> Date? {
        let scalars = Array(text.utf8)
        func number(_ range: Range<Int>) -> Int? {
            guard range.upperBound <= scalars.count else { return nil }
            var value = 0
            for index in range {
                let digit = Int(scalars[index]) - 48
                guard (0...9).contains(digit) else { return nil }
                value = value * 10 + digit
            }
            return value
        }
        guard scalars.count >= 19, let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
            let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19)
        else { return nil }
        var index = 19
        var fraction = 0.0
        if index < scalars.count, scalars[index] == UInt8(ascii: ".") {
            index += 1
            var scale = 0.1
            while index < scalars.count, let digit = number(index..<(index + 1)) {
                fraction += Double(digit) * scale
                scale /= 10
                index += 1
            }
        }
        var offsetSeconds = 0
        if index < scalars.count, scalars[index] == UInt8(ascii: "+") || scalars[index] == UInt8(ascii: "-") {
            let sign = scalars[index] == UInt8(ascii: "-") ? -1 : 1
            let rest = String(decoding: scalars[(index + 1)...], as: UTF8.self).replacingOccurrences(of: ":", with: "")
            guard rest.count == 4, let hours = Int(rest.prefix(2)), let minutes = Int(rest.suffix(2)) else { return nil }
            offsetSeconds = sign * (hours * 3600 + minutes * 60)
        }
        var calendar = Calendar(identifier: .gregorian)
        guard let utc = TimeZone(identifier: "UTC") else { return nil }
        calendar.timeZone = utc
        let components = DateComponents(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
        guard let date = calendar.date(from: components) else { return nil }
        return date.addingTimeInterval(fraction - Double(offsetSeconds))
    }
}
