import Foundation

/// The `Retry-After` answer header (RFC 9110 section 10.2.3): delay-seconds or an HTTP-date.
public enum RetryAfter {
    /// The delay `header` asks for, or nil when it is missing or unparsable (the caller then
    /// backs off on its own). An HTTP-date in the past is a zero delay.
    /// - Parameters:
    ///   - header: the header's value as sent.
    ///   - now: the current wall-clock time (HTTP-dates are absolute).
    public static func delay(_ header: String?, now: Date = Date()) -> Duration? {
        guard let text = header?.trimmingWhitespace(), !text.isEmpty else { return nil }
        if text.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) {
            // Beyond a day is not a pause anybody means: a day, then.
            return .seconds(Int(text).map { min($0, 86_400) } ?? 86_400)
        }
        for format in formats {
            if let date = format.date(from: text) {
                let seconds = max(0, date.timeIntervalSince(now))
                return .milliseconds(Int64(min(seconds, 86_400) * 1000))
            }
        }
        return nil
    }

    /// IMF-fixdate, and the obsolete RFC 850 and asctime forms recipients must accept.
    private static let formats: [DateFormatter] = [
        "EEE, dd MMM yyyy HH:mm:ss zzz", "EEEE, dd-MMM-yy HH:mm:ss zzz", "EEE MMM d HH:mm:ss yyyy",
    ].map { pattern in
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = pattern
        return formatter
    }
}
